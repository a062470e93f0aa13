"""Invalid input gives a clear error: the exception type and its message are checked."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import make_classification, make_multilabel_classification, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from skfnn import FNNClassifier, FNNRegressor
from skfnn.activations import Tanh

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ESTIMATORS = [FNNRegressor, FNNClassifier]


def data(Estimator, n=30):
    if Estimator is FNNClassifier:
        return make_classification(n_samples=n, n_features=3, n_informative=2, n_redundant=0,
                                   random_state=0)
    X, y = make_regression(n_samples=n, n_features=3, noise=1.0, random_state=0)
    return X, y / np.std(y)


def small(Estimator, **params):
    params = {"hidden_layer_sizes": (3,), "max_iter": 3, "random_state": 0, **params}
    return Estimator(**params)


def with_value(X, value):
    X = X.copy()
    X[2, 1] = value
    return X


# ----------------------------------------------------------------------
# X
# ----------------------------------------------------------------------
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_nan_in_X_at_fit(Estimator):
    X, y = data(Estimator)
    est = small(Estimator)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        est.fit(with_value(X, np.nan), y)
    assert not hasattr(est, "coefs_")


@pytest.mark.parametrize("value", [np.inf, -np.inf])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_inf_in_X_at_fit(Estimator, value):
    X, y = data(Estimator)
    with pytest.raises(ValueError, match="Input X contains infinity"):
        small(Estimator).fit(with_value(X, value), y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_nan_in_X_at_partial_fit(Estimator):
    X, y = data(Estimator)
    extra = {"classes": [0, 1]} if Estimator is FNNClassifier else {}
    with pytest.raises(ValueError, match="Input X contains NaN"):
        small(Estimator).partial_fit(with_value(X, np.nan), y, **extra)


PREDICT_METHODS = [(FNNRegressor, "predict"), (FNNClassifier, "predict"),
                   (FNNClassifier, "predict_proba"), (FNNClassifier, "predict_log_proba")]


@pytest.mark.parametrize(("value", "message"), [(np.nan, "Input X contains NaN"),
                                                (np.inf, "Input X contains infinity")])
@pytest.mark.parametrize(("Estimator", "method"), PREDICT_METHODS)
def test_non_finite_X_at_predict(Estimator, method, value, message):
    X, y = data(Estimator)
    est = small(Estimator).fit(X, y)
    with pytest.raises(ValueError, match=message):
        getattr(est, method)(with_value(X, value))


@pytest.mark.parametrize(("Estimator", "method"), PREDICT_METHODS
                         + [(FNNRegressor, "score"), (FNNClassifier, "score")])
def test_wrong_number_of_features_at_predict(Estimator, method):
    X, y = data(Estimator)
    est = small(Estimator).fit(X, y)
    args = (X[:, :2], y) if method == "score" else (X[:, :2],)
    with pytest.raises(ValueError, match=f"X has 2 features, but {Estimator.__name__} is "
                                         "expecting 3 features as input"):
        getattr(est, method)(*args)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_wrong_number_of_features_at_partial_fit(Estimator):
    X, y = data(Estimator)
    extra = {"classes": [0, 1]} if Estimator is FNNClassifier else {}
    est = small(Estimator).partial_fit(X, y, **extra)
    with pytest.raises(ValueError, match="X has 4 features, but .* is expecting 3"):
        est.partial_fit(np.hstack([X, X[:, :1]]), y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_empty_X(Estimator):
    X, y = data(Estimator)
    with pytest.raises(ValueError, match=r"Found array with 0 sample\(s\)"):
        small(Estimator).fit(X[:0], y[:0])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_predict_before_fit(Estimator):
    X, _ = data(Estimator)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        small(Estimator).predict(X)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_inconsistent_numbers_of_samples(Estimator):
    X, y = data(Estimator)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        small(Estimator).fit(X, y[:-1])


# ----------------------------------------------------------------------
# y
# ----------------------------------------------------------------------
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_negative_y_for_poisson(solver):
    X, y = data(FNNRegressor)
    y = np.abs(y)
    y[4] = -0.5
    est = small(FNNRegressor, loss="poisson", solver=solver)
    with pytest.raises(ValueError, match="negative.*poisson"):
        est.fit(X, y)
    with pytest.raises(ValueError, match="negative.*poisson"):
        est.partial_fit(X, y) if solver == "adam" else est.fit(X, -np.abs(y))


def test_zero_y_is_fine_for_poisson():
    X, y = data(FNNRegressor)
    y = np.where(y > 0, np.round(np.abs(y) * 3), 0.0)
    assert (y == 0).any()
    est = small(FNNRegressor, loss="poisson", solver="lbfgs", max_iter=20).fit(X, y)
    assert np.isfinite(est.loss_) and np.all(est.predict(X) > 0)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_y_for_regressor(value):
    X, y = data(FNNRegressor)
    y = y.copy()
    y[3] = value
    name = "NaN" if np.isnan(value) else "infinity"
    with pytest.raises(ValueError, match=f"Input y contains {name}"):
        small(FNNRegressor).fit(X, y)


def test_continuous_y_for_classifier():
    X, y = data(FNNRegressor)
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        small(FNNClassifier).fit(X, y)


def test_continuous_y_for_classifier_partial_fit():
    X, y = data(FNNRegressor)
    with pytest.raises(ValueError, match="Unknown label type"):
        small(FNNClassifier).partial_fit(X, y, classes=np.unique(y))


def test_classifier_partial_fit_without_classes():
    X, y = data(FNNClassifier)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        small(FNNClassifier).partial_fit(X, y)


def test_classifier_partial_fit_unseen_class():
    X, y = data(FNNClassifier)
    est = small(FNNClassifier).partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="classes"):
        est.partial_fit(X, np.where(y == 1, 7, y))


def test_classifier_warm_start_with_other_classes():
    X, y = data(FNNClassifier)
    est = small(FNNClassifier, warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="warm_start can only be used where `y` has the same "
                                         "classes"):
        est.fit(X, np.where(y == 1, 2, y))


# ----------------------------------------------------------------------
# Activations, losses, architecture
# ----------------------------------------------------------------------
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_unknown_activation_name_lists_valid_names(Estimator):
    X, y = data(Estimator)
    with pytest.raises(ValueError, match=r"Unknown activation 'tanhh'.*Valid names are:.*"
                                         r"\btanh\b.*"):
        small(Estimator, activation="tanhh").fit(X, y)


def test_unknown_activation_name_in_sequence():
    X, y = data(FNNRegressor)
    est = small(FNNRegressor, hidden_layer_sizes=(3, 2), activation=("relu", "rleu"))
    with pytest.raises(ValueError, match=r"Unknown activation 'rleu'.*\brelu\b"):
        est.fit(X, y)


def test_unknown_out_activation_name():
    X, y = data(FNNRegressor)
    with pytest.raises(ValueError, match=r"Unknown out_activation 'sigmoid'.*\blogistic\b"):
        small(FNNRegressor, out_activation="sigmoid").fit(X, y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_unknown_loss_name(Estimator):
    X, y = data(Estimator)
    with pytest.raises(ValueError, match=r"Unknown loss 'squared'.*\bsquared_error\b"):
        small(Estimator, loss="squared").fit(X, y)


class OnlyForward:
    """Has forward but no derivative: not an activation."""

    def forward(self, z):
        return z


def test_activation_object_lacking_interface():
    X, y = data(FNNRegressor)
    with pytest.raises(TypeError, match=r"'activation' parameter.*'forward' and 'derivative'"):
        small(FNNRegressor, activation=OnlyForward()).fit(X, y)
    with pytest.raises(TypeError, match="activation"):
        small(FNNRegressor, activation=object()).fit(X, y)


def test_activation_object_lacking_interface_in_sequence():
    X, y = data(FNNRegressor)
    est = small(FNNRegressor, hidden_layer_sizes=(3, 2), activation=("relu", OnlyForward()))
    with pytest.raises(TypeError, match=r"forward\(z\) and derivative\(z, a\).*OnlyForward.*"
                                        r"lacks derivative"):
        est.fit(X, y)


def test_loss_object_lacking_interface():
    X, y = data(FNNRegressor)
    with pytest.raises(TypeError, match="'loss' parameter"):
        small(FNNRegressor, loss=OnlyForward()).fit(X, y)


@pytest.mark.parametrize("param", ["activation", "out_activation"])
def test_activation_class_instead_of_instance(param):
    X, y = data(FNNRegressor)
    with pytest.raises(TypeError, match=r"got the class; call Tanh\(\)"):
        small(FNNRegressor, **{param: Tanh}).fit(X, y)


def test_activation_class_instead_of_instance_in_sequence():
    X, y = data(FNNRegressor)
    est = small(FNNRegressor, hidden_layer_sizes=(3, 2), activation=(Tanh(), Tanh))
    with pytest.raises(TypeError, match=r"call Tanh\(\)"):
        est.fit(X, y)


@pytest.mark.parametrize("sizes", [(3, 0), (0,), (4, -2), [-1]])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_hidden_layer_sizes_non_positive_in_sequence(Estimator, sizes):
    X, y = data(Estimator)
    with pytest.raises(ValueError, match="hidden_layer_sizes must contain positive integers"):
        small(Estimator, hidden_layer_sizes=sizes).fit(X, y)


@pytest.mark.parametrize("size", [0, -3])
def test_hidden_layer_sizes_non_positive_int(size):
    X, y = data(FNNRegressor)
    with pytest.raises(InvalidParameterError, match="'hidden_layer_sizes' parameter"):
        small(FNNRegressor, hidden_layer_sizes=size).fit(X, y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_hidden_softmax_activation(Estimator):
    X, y = data(Estimator)
    with pytest.raises(ValueError, match="softmax is not elementwise.*output activation"):
        small(Estimator, activation="softmax").fit(X, y)
    est = small(Estimator, hidden_layer_sizes=(3, 2), activation=("tanh", "softmax"))
    with pytest.raises(ValueError, match="softmax is not elementwise"):
        est.fit(X, y)


def test_softmax_output_for_regressor():
    X, y = data(FNNRegressor)
    with pytest.raises(ValueError, match="softmax"):
        small(FNNRegressor, out_activation="softmax").fit(X, y)


# ----------------------------------------------------------------------
# Other parameters
# ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("param", "value"),
    [("solver", "newton"), ("alpha", -1.0), ("learning_rate", "fast"),
     ("learning_rate_init", 0.0), ("momentum", 1.5), ("validation_fraction", 1.0),
     ("batch_size", 0), ("max_iter", 0), ("beta_1", 1.0)],
)
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_invalid_parameter_names_the_parameter(Estimator, param, value):
    X, y = data(Estimator)
    est = small(Estimator, **{param: value})
    with pytest.raises(InvalidParameterError, match=f"The '{param}' parameter of "
                                                    f"{Estimator.__name__} must be"):
        est.fit(X, y)
    assert not hasattr(est, "coefs_")


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_batch_size_larger_than_n_samples_is_clipped(Estimator):
    X, y = data(Estimator, n=30)
    kw = dict(solver="sgd", learning_rate_init=0.01)
    with pytest.warns(UserWarning, match="clipped"):
        big = small(Estimator, batch_size=100, **kw).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.filterwarnings("ignore", category=Warning, message=".*Maximum iterations")
        exact = small(Estimator, batch_size=30, **kw).fit(X, y)
    # Clipped to n_samples: the same training as batch_size=n_samples.
    for p, q in zip(big.coefs_ + big.intercepts_, exact.coefs_ + exact.intercepts_, strict=True):
        assert_allclose(p, q, rtol=1e-12, atol=1e-15)


def test_validation_set_too_small_regressor():
    X, y = data(FNNRegressor, n=30)
    est = small(FNNRegressor, early_stopping=True, validation_fraction=0.03)  # 1 sample
    with pytest.raises(ValueError, match="The validation set is too small"):
        est.fit(X, y)
    # Two validation samples are enough.
    est.set_params(validation_fraction=0.05).fit(X, y)
    assert len(est.validation_scores_) == est.n_iter_


def test_validation_set_too_small_multilabel_classifier():
    X, Y = make_multilabel_classification(n_samples=30, n_features=3, n_classes=3,
                                          random_state=0)
    est = small(FNNClassifier, early_stopping=True, validation_fraction=0.03)
    with pytest.raises(ValueError, match="The validation set is too small"):
        est.fit(X, Y)


def test_validation_set_smaller_than_number_of_classes():
    # The split is stratified for one output, as scikit-learn's MLPClassifier.
    X, y = data(FNNClassifier, n=30)
    est = small(FNNClassifier, early_stopping=True, validation_fraction=0.03)
    with pytest.raises(ValueError, match="test_size = 1 should be greater or equal to the "
                                         "number of classes = 2"):
        est.fit(X, y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_partial_fit_with_early_stopping(Estimator):
    X, y = data(Estimator)
    extra = {"classes": [0, 1]} if Estimator is FNNClassifier else {}
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        small(Estimator, early_stopping=True).partial_fit(X, y, **extra)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_sample_weight_wrong_length(Estimator):
    X, y = data(Estimator)
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(29,\), expected \(30,\)"):
        small(Estimator).fit(X, y, sample_weight=np.ones(29))

"""Checks of the input and the parameters beyond scikit-learn's: single-class targets,
sample weights, boolean layer sizes, the number of per-layer entries, partial_fit's
parameters, check_gradients on pipelines and other estimators."""

import copy
from unittest import mock

import numpy as np
import pytest
from helpers import (
    Slopes,
    assert_raises_and_stays_unfitted,
    assert_same_model,
    classification_data,
    forward_by_hand,
    regression_data,
)
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skfnn import FNNClassifier, FNNRegressor, check_gradients
from skfnn import activations as skfnn_activations

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# ======================================================================
# Single-class targets
# ======================================================================
@pytest.mark.parametrize("label", [0, -3, "spam"])
def test_fit_on_one_class_raises_naming_the_class_count(label):
    X, _ = classification_data()
    y = np.array([label] * len(X), dtype=object if isinstance(label, str) else None)
    assert_raises_and_stays_unfitted(FNNClassifier((4,), max_iter=2), "fit", X, y,
                                     match=f"at least 2 classes.*only one class: {label}")


def test_partial_fit_with_one_declared_class_raises():
    X, _ = classification_data()
    est = FNNClassifier((4,))
    with pytest.raises(ValueError, match="at least 2 classes.*only one class: 0"):
        est.partial_fit(X, np.zeros(len(X), dtype=int), classes=[0])
    assert not hasattr(est, "classes_")


def test_partial_fit_may_see_one_class_of_the_two_declared():
    X, _ = classification_data()
    est = FNNClassifier((4,), random_state=0)
    est.partial_fit(X, np.zeros(len(X), dtype=int), classes=[0, 1])
    P = est.predict_proba(X)
    assert_array_equal(est.classes_, [0, 1])
    assert P.shape == (len(X), 2)
    p = forward_by_hand(X, est.coefs_, est.intercepts_, lambda z: np.maximum(z, 0),
                        expit).ravel()
    assert_allclose(P[:, 1], p, rtol=1e-12)


def test_scikit_learns_one_label_checks_still_pass():
    from sklearn.utils.estimator_checks import (
        check_classifiers_one_label,
        check_classifiers_one_label_sample_weights,
    )

    check_classifiers_one_label("FNNClassifier", FNNClassifier())
    check_classifiers_one_label_sample_weights("FNNClassifier", FNNClassifier())


# ======================================================================
# Smaller items
# ======================================================================
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize("weights, message", [
    (np.r_[-1.0, np.ones(59)], "[Nn]egative"),
    (np.zeros(60), "zero"),
])
def test_sample_weight_must_be_non_negative_and_not_all_zero(method, weights, message):
    X, y = regression_data()
    assert_raises_and_stays_unfitted(FNNRegressor((3,), max_iter=2), method, X, y,
                                     sample_weight=weights, match=message)


@pytest.mark.parametrize("sizes", [(True,), True, (np.True_,), (4, False)])
def test_boolean_hidden_layer_sizes_are_rejected(sizes):
    X, y = regression_data()
    with pytest.raises(ValueError, match="hidden_layer_sizes must contain positive integers"):
        FNNRegressor(sizes, max_iter=2).fit(X, y)


def test_check_gradients_of_a_pipeline_checks_its_last_step_on_the_transformed_data():
    X, y = regression_data(n=30)
    X = X * [1, 10, 100, 1000]  # so the scaler matters
    est = FNNRegressor((4,), activation="tanh", alpha=0.1, random_state=0)
    pipeline = make_pipeline(StandardScaler(), est)
    ours = check_gradients(pipeline, X, y)
    direct = check_gradients(est, StandardScaler().fit_transform(X), y)
    assert ours.passed
    assert_array_equal(ours.gradient, direct.gradient)
    assert_array_equal(ours.numerical_gradient, direct.numerical_gradient)
    assert ours.loss == direct.loss


def test_check_gradients_of_a_fitted_pipeline_uses_its_fitted_transforms():
    X, y = regression_data(n=30)
    pipeline = make_pipeline(StandardScaler(), FNNRegressor((4,), activation="tanh",
                                                            max_iter=5, random_state=0))
    pipeline.fit(X * 10 + 3, y)  # the scaler learns another mean and scale
    ours = check_gradients(pipeline, X, y)
    direct = check_gradients(pipeline[-1], pipeline[0].transform(X), y)
    assert_array_equal(ours.gradient, direct.gradient)
    assert ours.loss == direct.loss


@pytest.mark.parametrize("estimator", [MLPRegressor(),
                                       make_pipeline(StandardScaler(), MLPRegressor())])
def test_check_gradients_of_a_non_fnn_estimator_says_what_it_needs(estimator):
    X, y = regression_data(n=20)
    with pytest.raises(TypeError, match="needs an FNNRegressor or FNNClassifier.*got "
                                        "MLPRegressor"):
        check_gradients(estimator, X, y)


def test_activation_count_message_grammar():
    X, y = regression_data()
    with pytest.raises(ValueError, match="there is 1 hidden layer;"):
        FNNRegressor((3,), activation=["relu", "tanh"], max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="activation has 1 entry but there are 2 hidden "
                                         "layers"):
        FNNRegressor((3, 3), activation=["relu"], max_iter=2).fit(X, y)


def test_the_names_offered_for_a_hidden_activation_do_not_include_softmax():
    X, y = regression_data()
    with pytest.raises(ValueError) as error:
        FNNRegressor((3,), activation="nope", max_iter=2).fit(X, y)
    names = str(error.value).split("Valid names are: ")[1].split(";")[0].split(", ")
    assert "softmax" not in names
    assert set(names) == {n for n, cls in skfnn_activations.ACTIVATIONS.items()
                          if n != "softmax"}
    with pytest.raises(ValueError, match="softmax.*only be the output activation"):
        FNNRegressor((3,), activation="softmax", max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="Valid names are: .*softmax"):  # it is an output
        FNNClassifier((3,), out_activation="nope", max_iter=2).fit(X, y > 0)


def test_an_activation_holding_an_array_survives_warm_start():
    X, y = regression_data()
    slopes = Slopes(np.linspace(0.01, 0.2, 5))
    est = FNNRegressor((5,), activation=slopes, solver="adam", max_iter=3, warm_start=True,
                       random_state=0).fit(X, y)
    twin = copy.deepcopy(est)
    est.fit(X, y)  # the same object
    twin.set_params(activation=Slopes(slopes.slopes.copy())).fit(X, y)  # an equal one
    assert_same_model(est, twin)
    A1 = np.maximum(X @ est.coefs_[0] + est.intercepts_[0], 0) + np.minimum(
        X @ est.coefs_[0] + est.intercepts_[0], 0) * slopes.slopes
    assert_allclose(est.predict(X), (A1 @ est.coefs_[1] + est.intercepts_[1]).ravel(),
                    rtol=1e-12)
    with pytest.raises(ValueError, match="same activations"):
        est.set_params(activation=Slopes(slopes.slopes * 2)).fit(X, y)


def test_partial_fit_validates_its_parameters_on_the_first_call_only():
    X, y = regression_data()
    for Estimator, extra in ((FNNRegressor, {}), (FNNClassifier, {"classes": [0, 1]})):
        target = (y > 0).astype(int) if Estimator is FNNClassifier else y
        est = Estimator((3,))
        with mock.patch.object(Estimator, "_validate_params", autospec=True,
                               side_effect=Estimator._validate_params) as spy:
            est.partial_fit(X, target, **extra)
            est.partial_fit(X, target)
            est.partial_fit(X, target)
            assert spy.call_count == 1
            est.fit(X, target)  # fit always validates
            assert spy.call_count == 2


def test_fnnregressor_takes_hidden_layer_sizes_first_unlike_mlpregressor():
    import inspect

    first = next(iter(inspect.signature(FNNRegressor).parameters))
    assert first == "hidden_layer_sizes"
    assert FNNRegressor((7,)).hidden_layer_sizes == (7,)
    assert next(iter(inspect.signature(FNNClassifier).parameters)) == first
    # scikit-learn 1.9 moved loss first in MLPRegressor; calls written before keep
    # working with FNNRegressor, which keeps loss keyword-only.
    assert inspect.signature(FNNRegressor).parameters["loss"].kind is \
        inspect.Parameter.KEYWORD_ONLY

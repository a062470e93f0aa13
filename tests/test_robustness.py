"""Pluggable pieces that cannot silently corrupt a model (issue 8, items 1-10).

Each section tests one item of the issue as a demanding user would meet it:
plain (duck-typed) activations and losses, the shape / dtype / finiteness
contract of their results, probabilities that are probabilities, single-class
targets, divergence, transactional fits, the model at predict time, the BLAS
limit around the divergence check, pickles, and the smaller items.

Expected values come from independent computations: the network recomputed by
hand from ``coefs_`` with numpy, the built-in equivalent of a plain object,
scikit-learn's MLP on the same data, an untouched copy of the estimator, or
the same quantity reached by another code path.
"""

import copy
import io
import pickle
import warnings
from unittest import mock

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit, softmax
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    load_wine,
    make_classification,
    make_regression,
)
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

import skfnn
from skfnn import Activation, FNNClassifier, FNNRegressor, check_gradients
from skfnn import activations as skfnn_activations
from skfnn import losses as skfnn_losses
from skfnn._sklearn_compat import HAS_CALLBACKS
from skfnn.activations import Logistic, Softmax

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SOLVERS = ["sgd", "adam", "lbfgs"]
STOCHASTIC = ["sgd", "adam"]

#: scikit-learn's words for a diverged fit, copied here (not imported from skfnn).
SKLEARN_DIVERGENCE = (
    "Solver produced non-finite parameter weights. The input data may contain large "
    "values and need to be preprocessed."
)


# ----------------------------------------------------------------------
# Module-level custom objects (picklable; used by GridSearchCV's workers)
# ----------------------------------------------------------------------
class PlainTanh:
    """tanh with only the two required methods: no base class, no optional attribute."""

    def forward(self, z):
        return np.tanh(z)

    def derivative(self, z, a):
        return 1 - a**2


class PlainSquaredError:
    """½‖a − y‖² with only __call__, gradient and delta: no base class."""

    def __call__(self, y, a, sample_weight=None):
        per_sample = 0.5 * ((a - y) ** 2).sum(axis=1)
        if sample_weight is None:
            return per_sample.mean()
        return np.dot(sample_weight, per_sample) / sample_weight.sum()

    def gradient(self, y, a):
        return a - y

    def delta(self, y, z, a, activation):
        return self.gradient(y, a) * activation.derivative(z, a)


class PlainLogistic:
    """The logistic function as a plain class that declares no output range."""

    def forward(self, z):
        return expit(z)

    def derivative(self, z, a):
        return a * (1 - a)


class DeclaredLogistic(PlainLogistic):
    """The same, declaring that its values lie in [0, 1]."""

    output_range = (0.0, 1.0)


class TwiceLogistic(Logistic):
    """2 σ(z): a Logistic subclass whose values lie in (0, 2) (docs/extending.md)."""

    def forward(self, z):
        return 2 * expit(z)

    def derivative(self, z, a):
        return a * (1 - a / 2)


class SharpLogistic(Logistic):
    """σ(3z): a Logistic subclass with values in (0, 1) but another function.

    Redefining forward drops the inherited output_range; it still holds, so it
    is declared again (docs/extending.md).
    """

    output_range = (0.0, 1.0)

    def forward(self, z):
        return expit(3 * z)

    def derivative(self, z, a):
        return 3 * a * (1 - a)


class TemperatureSoftmax(Softmax):
    """softmax(z / 2): a Softmax subclass a user may write for calibration."""

    def forward(self, z):
        return softmax(z / 2, axis=1)


class BrokenTanh:
    """tanh whose ``mode`` breaks one result's contract."""

    def __init__(self, mode):
        self.mode = mode

    def forward(self, z):
        a = np.tanh(z)
        if self.mode == "forward_column":
            return a[:, :1]
        if self.mode == "forward_inf":
            return np.full_like(a, np.inf)
        return a

    def derivative(self, z, a):
        d = 1 - a**2
        broken = {"column": lambda: d[:, :1], "scalar": lambda: np.float64(0.5),
                  "transposed": lambda: d.T, "nan": lambda: d * np.nan,
                  "complex": lambda: d + 0j, "string": lambda: d.astype(str)}
        return broken[self.mode]() if self.mode in broken else d

    def __repr__(self):
        return f"BrokenTanh({self.mode!r})"


class BrokenSquaredError(PlainSquaredError):
    """½‖a − y‖² whose ``mode`` breaks one result's contract."""

    def __init__(self, mode):
        self.mode = mode

    def __call__(self, y, a, sample_weight=None):
        value = super().__call__(y, a, sample_weight)
        broken = {"call_vector": lambda: 0.5 * ((a - y) ** 2).sum(axis=1),
                  "call_nan": lambda: np.nan, "call_complex": lambda: value + 1j,
                  "call_array11": lambda: np.array([[value]])}
        return broken[self.mode]() if self.mode in broken else value

    def gradient(self, y, a):
        g = a - y
        broken = {"gradient_column": lambda: g[:, :1], "gradient_scalar": lambda: 0.5,
                  "gradient_flat": lambda: g.ravel(), "gradient_nan": lambda: g * np.nan}
        return broken[self.mode]() if self.mode in broken else g

    def delta(self, y, z, a, activation):
        d = super().delta(y, z, a, activation)
        broken = {"delta_flat": lambda: d.ravel(), "delta_transposed": lambda: d.T,
                  "delta_complex": lambda: d + 0j}
        return broken[self.mode]() if self.mode in broken else d

    def __repr__(self):
        return f"BrokenSquaredError({self.mode!r})"


class Bomb:
    """tanh that raises ``error`` on its ``at``-th forward call (never if None)."""

    def __init__(self, at=None, error=RuntimeError):
        self.at, self.error, self.calls = at, error, 0

    def forward(self, z):
        self.calls += 1
        if self.calls == self.at:
            raise self.error(f"bomb at forward call {self.calls}")
        return np.tanh(z)

    def derivative(self, z, a):
        return 1 - a**2


class NanBeyondFive:
    """tanh, but NaN where z > 5 (a careless approximation): fine on the training data."""

    def forward(self, z):
        return np.where(z > 5, np.nan, np.tanh(z))

    def derivative(self, z, a):
        return 1 - a**2


class Slopes(Activation):
    """Leaky relu with one negative slope per unit, held in a numpy array."""

    name = "slopes"

    def __init__(self, slopes):
        self.slopes = slopes

    def forward(self, z):
        return np.where(z > 0, z, self.slopes * z)

    def derivative(self, z, a):
        return np.where(z > 0, 1.0, self.slopes)


# ----------------------------------------------------------------------
# Data and by-hand computations
# ----------------------------------------------------------------------
def regression_data(n=60, n_features=4, n_outputs=1, seed=0):
    X, y = make_regression(n_samples=n, n_features=n_features, n_targets=n_outputs,
                           noise=1.0, random_state=seed)
    return X, y / y.std(axis=0)


def classification_data(n=60, n_classes=2, seed=0):
    return make_classification(n_samples=n, n_features=5, n_informative=3, n_redundant=0,
                               n_classes=n_classes, random_state=seed)


def forward_by_hand(X, coefs, intercepts, hidden, out):
    """A^L layer by layer with numpy; ``hidden`` and ``out`` are functions of Z."""
    A = X
    for l, (W, b) in enumerate(zip(coefs, intercepts, strict=True)):
        Z = A @ W + b
        A = out(Z) if l == len(coefs) - 1 else hidden(Z)
    return A


def squared_error_objective(X, y, coefs, intercepts, alpha, hidden=np.tanh):
    """J = mean ½‖a − y‖² + α/(2n) Σ‖W‖², by hand."""
    a = forward_by_hand(X, coefs, intercepts, hidden, lambda z: z)
    r = a - y.reshape(a.shape)
    penalty = 0.5 * alpha * sum((W**2).sum() for W in coefs) / X.shape[0]
    return 0.5 * (r**2).sum(axis=1).mean() + penalty


def assert_same_model(a, b, rtol=0.0, atol=0.0):
    assert len(a.coefs_) == len(b.coefs_)
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True):
        assert_allclose(p, q, rtol=rtol, atol=atol)


def assert_equal_state(got, expected, path):
    """Recursive exact equality of fitted state (arrays, lists, dicts, plain objects)."""
    if isinstance(expected, np.ndarray):
        assert isinstance(got, np.ndarray) and got.dtype == expected.dtype, path
        assert_array_equal(got, expected, err_msg=path)
    elif isinstance(expected, (list, tuple)):
        assert type(got) is type(expected) and len(got) == len(expected), path
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            assert_equal_state(g, e, f"{path}[{i}]")
    elif isinstance(expected, dict):
        assert got.keys() == expected.keys(), path
        for k in expected:
            assert_equal_state(got[k], expected[k], f"{path}[{k!r}]")
    elif hasattr(expected, "__dict__") and not isinstance(expected, type):
        assert type(got) is type(expected), path
        assert_equal_state(vars(got), vars(expected), path)
    elif isinstance(expected, float) and np.isnan(expected):
        assert np.isnan(got), path
    else:
        assert got == expected, f"{path}: {got!r} != {expected!r}"


def assert_raises_and_stays_unfitted(est, method, *args, match, **kwargs):
    """``est.method(*args)`` raises ValueError matching ``match`` and leaves est unfitted."""
    with pytest.raises(ValueError, match=match):
        getattr(est, method)(*args, **kwargs)
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


# ======================================================================
# 1. Duck-typed objects work
# ======================================================================
def test_the_plain_classes_really_have_only_the_required_methods():
    optional_activation = set(skfnn_activations.OPTIONAL_ATTRIBUTES)
    optional_loss = set(skfnn_losses.OPTIONAL_ATTRIBUTES)
    assert not any(hasattr(PlainTanh(), name) for name in optional_activation)
    assert not any(hasattr(PlainSquaredError(), name) for name in optional_loss)
    assert not isinstance(PlainTanh(), Activation)
    assert not isinstance(PlainSquaredError(), skfnn.Loss)


def test_optional_defaults_are_the_base_classes_defaults():
    # A plain object gets exactly what a subclass of the base class inherits.
    for name, default in skfnn_activations.OPTIONAL_ATTRIBUTES.items():
        assert skfnn_activations.optional(PlainTanh(), name) == default
        # vjp: the base class's method computes g ⊙ σ'(z), what the default None means.
        if name not in ("name", "forward_into", "multiply_derivative", "vjp"):
            assert getattr(Activation, name) == default, name
    for name, default in skfnn_losses.OPTIONAL_ATTRIBUTES.items():
        assert skfnn_losses.optional(PlainSquaredError(), name) == default
        if name not in ("name", "check_target"):
            assert getattr(skfnn.Loss, name) == default, name


def plain_and_builtin(**params):
    """The same regressor twice: with the plain objects, and with the built-ins."""
    plain = FNNRegressor(activation=PlainTanh(), loss=PlainSquaredError(), **params)
    builtin = FNNRegressor(activation="tanh", loss="squared_error", **params)
    return plain, builtin


@pytest.mark.parametrize("solver", SOLVERS)
def test_plain_objects_fit_like_the_builtins_and_predict_from_coefs(solver):
    X, y = regression_data()
    params = dict(hidden_layer_sizes=(5,), solver=solver, max_iter=15, alpha=0.01,
                  learning_rate_init=0.01, random_state=0)
    plain, builtin = (e.fit(X, y) for e in plain_and_builtin(**params))
    assert_same_model(plain, builtin, rtol=1e-9, atol=1e-12)
    by_hand = forward_by_hand(X, plain.coefs_, plain.intercepts_, np.tanh, lambda z: z)
    assert_allclose(plain.predict(X), by_hand.ravel(), rtol=1e-12)
    assert plain.out_activation_ == "identity"  # the loss's default_out_activation default
    if solver == "lbfgs":
        J = squared_error_objective(X, y, plain.coefs_, plain.intercepts_, 0.01)
        assert plain.loss_ == pytest.approx(J, rel=1e-10)


def test_plain_activation_is_initialised_with_the_default_init_factor():
    # Glorot-uniform with the documented default numerator 6: W¹ is the first draw
    # of U(±√(6 / (fan_in + fan_out))), as scikit-learn draws it.
    X, y = regression_data()
    est = FNNRegressor((5,), activation=PlainTanh(), solver="sgd", learning_rate_init=1e-300,
                       max_iter=1, random_state=0).fit(X, y)
    bound = np.sqrt(6.0 / (4 + 5))
    assert_allclose(est.coefs_[0], np.random.RandomState(0).uniform(-bound, bound, (4, 5)),
                    rtol=1e-12)


@pytest.mark.parametrize("solver", STOCHASTIC)
def test_plain_objects_partial_fit_like_the_builtins(solver):
    X, y = regression_data()
    plain, builtin = plain_and_builtin(hidden_layer_sizes=(5,), solver=solver,
                                       learning_rate_init=0.01, random_state=0)
    for start in (0, 20, 40):
        plain.partial_fit(X[start:start + 20], y[start:start + 20])
        builtin.partial_fit(X[start:start + 20], y[start:start + 20])
    assert_same_model(plain, builtin, rtol=1e-10, atol=1e-13)
    assert plain.t_ == builtin.t_ == 60


@pytest.mark.parametrize("solver", SOLVERS)
def test_plain_objects_warm_start_like_the_builtins(solver):
    X, y = regression_data()
    plain, builtin = plain_and_builtin(hidden_layer_sizes=(5,), solver=solver, max_iter=5,
                                       warm_start=True, learning_rate_init=0.01,
                                       random_state=0)
    for _ in range(3):
        plain.fit(X, y)
        builtin.fit(X, y)
    assert_same_model(plain, builtin, rtol=1e-8, atol=1e-11)
    assert len(plain.loss_curve_) == len(builtin.loss_curve_)


def test_plain_objects_in_check_gradients_give_the_builtins_gradient():
    X, y = regression_data(n=20)
    plain, builtin = plain_and_builtin(hidden_layer_sizes=(4,), alpha=0.1, random_state=0)
    ours, theirs = check_gradients(plain, X, y), check_gradients(builtin, X, y)
    assert ours.passed
    assert_allclose(ours.gradient, theirs.gradient, rtol=1e-12, atol=1e-15)
    assert ours.loss == pytest.approx(theirs.loss, rel=1e-12)


def test_plain_objects_in_check_activation_and_check_loss():
    from skfnn import check_activation, check_loss

    assert check_activation(PlainTanh()).passed
    # The same points for the plain loss and its built-in twin: the same verdict.
    assert check_loss(PlainSquaredError()).passed
    assert check_loss("squared_error").passed


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_plain_objects_in_grid_search(n_jobs):
    X, y = regression_data()
    grid = {"alpha": [1e-4, 1e-1]}
    results = []
    for est in plain_and_builtin(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=20,
                                 random_state=0):
        search = GridSearchCV(est, grid, cv=3, n_jobs=n_jobs).fit(X, y)
        results.append(search.cv_results_["mean_test_score"])
        assert isinstance(search.best_estimator_.activation, (PlainTanh, str))
    assert_allclose(results[0], results[1], rtol=1e-8)


def test_plain_objects_pickle_and_training_continues_identically():
    X, y = regression_data()
    est = FNNRegressor((5,), activation=PlainTanh(), loss=PlainSquaredError(),
                       solver="adam", max_iter=5, warm_start=True, random_state=0).fit(X, y)
    loaded = pickle.loads(pickle.dumps(est))
    assert isinstance(loaded.activation, PlainTanh)
    assert_array_equal(loaded.predict(X), est.predict(X))
    est.fit(X, y)
    loaded.fit(X, y)
    assert_same_model(loaded, est)


def test_plain_objects_as_hidden_and_output_activation_of_a_regressor():
    X, y = regression_data()
    target = np.tanh(y)
    est = FNNRegressor((5,), activation=PlainTanh(), out_activation=PlainTanh(),
                       solver="lbfgs", max_iter=50, random_state=0).fit(X, target)
    by_hand = forward_by_hand(X, est.coefs_, est.intercepts_, np.tanh, np.tanh)
    assert_allclose(est.predict(X), by_hand.ravel(), rtol=1e-12)
    assert isinstance(est.out_activation_, PlainTanh)  # no name: the object itself
    assert est.score(X, target) > 0.9


# ======================================================================
# 2. Shape contracts are checked
# ======================================================================
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize("mode, got", [("column", "(60, 1)"), ("scalar", "()"),
                                       ("transposed", "(3, 60)")])
def test_activation_derivative_of_the_wrong_shape(solver, mode, got):
    X, y = regression_data()
    est = FNNRegressor((3,), activation=BrokenTanh(mode), solver=solver, max_iter=5,
                       random_state=0)
    with pytest.raises(ValueError) as error:
        est.fit(X, y)
    message = str(error.value)
    for part in ("BrokenTanh", "derivative(z, a)", got, "(60, 3)", "layer 1"):
        assert part in message, (part, message)


def test_activation_forward_of_the_wrong_shape():
    X, y = regression_data()
    with pytest.raises(ValueError, match=r"BrokenTanh.*\(60, 1\).*forward\(z\).*\(60, 3\)"):
        FNNRegressor((3,), activation=BrokenTanh("forward_column"), max_iter=2).fit(X, y)


def test_the_wrong_shape_is_reported_by_partial_fit_and_check_gradients():
    X, y = regression_data()
    expected = r"BrokenTanh.*\(60, 1\) from derivative\(z, a\) for z of shape \(60, 3\)"
    with pytest.raises(ValueError, match=expected):
        FNNRegressor((3,), activation=BrokenTanh("column")).partial_fit(X, y)
    with pytest.raises(ValueError, match=expected):
        check_gradients(FNNRegressor((3,), activation=BrokenTanh("column")), X, y)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize("mode, method, got, expected", [
    ("gradient_column", "gradient(y, a)", "(60, 1)", "(60, 2)"),
    ("gradient_scalar", "gradient(y, a)", "()", "(60, 2)"),
    ("gradient_flat", "gradient(y, a)", "(120,)", "(60, 2)"),
    ("delta_flat", "delta(y, z, a, activation)", "(120,)", "(60, 2)"),
    ("delta_transposed", "delta(y, z, a, activation)", "(2, 60)", "(60, 2)"),
])
def test_loss_results_of_the_wrong_shape(solver, mode, method, got, expected):
    X, Y = regression_data(n_outputs=2)
    est = FNNRegressor((4,), loss=BrokenSquaredError(mode), solver=solver, max_iter=5,
                       random_state=0)
    with pytest.raises(ValueError) as error:
        est.fit(X, Y)
    message = str(error.value)
    for part in ("BrokenSquaredError", method, got, expected):
        assert part in message, (part, message)


@pytest.mark.parametrize("mode", ["call_vector", "call_array11"])
def test_loss_call_returning_an_array(mode):
    X, y = regression_data()
    with pytest.raises(ValueError) as error:
        FNNRegressor((4,), loss=BrokenSquaredError(mode), solver="lbfgs",
                     max_iter=5).fit(X, y)
    message = str(error.value)
    assert "BrokenSquaredError" in message and "__call__" in message
    assert "one real number" in message
    assert "0-dimensional" not in message  # not numpy's words


@pytest.mark.parametrize("obj, method", [
    (BrokenTanh("nan"), "derivative(z, a)"),
    (BrokenTanh("forward_inf"), "forward(z)"),
    (BrokenSquaredError("gradient_nan"), "gradient(y, a)"),
    (BrokenSquaredError("call_nan"), "__call__(y, a, sample_weight)"),
])
@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_non_finite_results_are_named(obj, method, solver):
    X, y = regression_data()
    param = "loss" if isinstance(obj, BrokenSquaredError) else "activation"
    est = FNNRegressor((3,), solver=solver, max_iter=5, random_state=0, **{param: obj})
    with pytest.raises(ValueError) as error:
        est.fit(X, y)
    message = str(error.value)
    assert type(obj).__name__ in message and method in message and "non-finite" in message


@pytest.mark.parametrize("obj, method, dtype", [
    (BrokenTanh("complex"), "derivative(z, a)", "complex128"),
    (BrokenTanh("string"), "derivative(z, a)", "<U"),
    (BrokenSquaredError("delta_complex"), "delta(y, z, a, activation)", "complex128"),
    (BrokenSquaredError("call_complex"), "__call__(y, a, sample_weight)", "complex"),
])
def test_complex_or_non_numeric_results_are_named(obj, method, dtype):
    X, y = regression_data()
    param = "loss" if isinstance(obj, BrokenSquaredError) else "activation"
    with pytest.raises(ValueError) as error:
        FNNRegressor((3,), max_iter=5, random_state=0, **{param: obj}).fit(X, y)
    message = str(error.value)
    assert type(obj).__name__ in message and method in message and dtype in message


def test_contract_checks_run_once_per_fit_not_per_step():
    """The hot path stays free: the number of checks does not grow with the epochs."""
    from skfnn import _network

    X, y = regression_data()
    counts = []
    for max_iter in (2, 20):
        with mock.patch.object(_network, "_expect_array",
                               side_effect=_network._expect_array) as spy:
            FNNRegressor((3,), activation=PlainTanh(), loss=PlainSquaredError(),
                         solver="sgd", batch_size=10, max_iter=max_iter, tol=0,
                         n_iter_no_change=np.inf, random_state=0).fit(X, y)
        counts.append(spy.call_count)
    assert counts[0] == counts[1] > 0


# ======================================================================
# 3. A classifier's probabilities are probabilities
# ======================================================================
UNBOUNDED_OUTPUTS = ["identity", "exp", "tanh", "relu", "softplus", "leaky_relu", "elu",
                     "gelu", "silu"]


@pytest.mark.parametrize("out", UNBOUNDED_OUTPUTS)
@pytest.mark.parametrize("target", ["binary", "multilabel", "multiclass"])
def test_classifier_rejects_outputs_that_are_not_probabilities(out, target):
    X, y = classification_data(n_classes=3 if target == "multiclass" else 2)
    if target == "multilabel":
        y = np.c_[y, 1 - y]
    assert_raises_and_stays_unfitted(FNNClassifier((4,), out_activation=out, max_iter=2),
                                     "fit", X, y,
                                     match=f"out_activation='{out}'.*not probabilities")


def test_classifier_rejects_an_undeclared_custom_output_and_says_how_to_declare():
    X, y = classification_data()
    with pytest.raises(ValueError, match=r"declares no output_range.*output_range = \(0\.0, "
                                         r"1\.0\)"):
        FNNClassifier((4,), out_activation=PlainLogistic(), max_iter=2).fit(X, y)


def test_classifier_accepts_a_declared_custom_output_and_its_probabilities_are_right():
    X, y = classification_data()
    params = dict(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=30, random_state=0)
    ours = FNNClassifier(out_activation=DeclaredLogistic(), **params).fit(X, y)
    builtin = FNNClassifier(**params).fit(X, y)
    p = forward_by_hand(X, ours.coefs_, ours.intercepts_, lambda z: np.maximum(z, 0),
                        expit).ravel()
    assert_allclose(ours.predict_proba(X), np.c_[1 - p, p], rtol=1e-12)
    assert_allclose(ours.predict_proba(X), builtin.predict_proba(X), rtol=1e-6, atol=1e-9)
    # Where 1 − p rounds to 0, the log-probability stays finite (log of the tiny float).
    assert_allclose(np.exp(ours.predict_log_proba(X)), ours.predict_proba(X), rtol=1e-10,
                    atol=1e-300)


@pytest.mark.parametrize("target", ["binary", "multiclass", "multilabel"])
def test_probabilities_are_probabilities_and_agree_with_log_probabilities(target):
    X, y = classification_data(n=80, n_classes=4 if target == "multiclass" else 2)
    if target == "multilabel":
        y = np.c_[y, X[:, 0] > 0, X[:, 1] > 0].astype(int)
    clf = FNNClassifier((6,), solver="lbfgs", max_iter=40, random_state=0).fit(X, y)
    P = clf.predict_proba(X)
    assert P.shape == (80, 4 if target == "multiclass" else 2 if target == "binary" else 3)
    assert np.all((P >= 0) & (P <= 1))
    if target != "multilabel":
        assert_allclose(P.sum(axis=1), 1, rtol=1e-12)
    out = softmax if target == "multiclass" else expit
    by_hand = forward_by_hand(X, clf.coefs_, clf.intercepts_, lambda z: np.maximum(z, 0),
                              lambda z: out(z, axis=1) if out is softmax else out(z))
    assert_allclose(P, np.c_[1 - by_hand, by_hand] if target == "binary" else by_hand,
                    rtol=1e-12)
    # They agree to the rounding of 1 − p (predict_log_proba is the more exact of the two).
    assert_allclose(np.exp(clf.predict_log_proba(X)), P, rtol=1e-10, atol=1e-15)


def test_a_logistic_subclass_with_a_wider_range_is_not_taken_for_probabilities():
    """The inherited output_range=(0, 1) of Logistic is not TwiceLogistic's (0, 2).

    Either the classifier refuses it (the range is not inherited by a subclass that
    redefines forward, as the fast paths are not), or its probabilities lie in [0, 1].
    """
    X, y = classification_data()
    try:
        clf = FNNClassifier((4,), out_activation=TwiceLogistic(), solver="lbfgs",
                            max_iter=30, random_state=0).fit(X, y)
    except ValueError as error:
        assert "output_range" in str(error)
        return
    P = clf.predict_proba(X)
    assert np.all((P >= 0) & (P <= 1)), f"predict_proba in [{P.min():.3f}, {P.max():.3f}]"


def test_log_probabilities_of_a_logistic_subclass_agree_with_its_probabilities():
    X, y = classification_data()
    clf = FNNClassifier((4,), out_activation=SharpLogistic(), solver="lbfgs", max_iter=30,
                        random_state=0).fit(X, y)
    p = forward_by_hand(X, clf.coefs_, clf.intercepts_, lambda z: np.maximum(z, 0),
                        lambda z: expit(3 * z)).ravel()
    assert_allclose(clf.predict_proba(X), np.c_[1 - p, p], rtol=1e-12)
    assert_allclose(np.exp(clf.predict_log_proba(X)), clf.predict_proba(X), rtol=1e-8)


def test_a_softmax_subclass_either_works_or_gets_a_clear_error():
    X, y = classification_data(n_classes=3)
    try:
        clf = FNNClassifier((4,), out_activation=TemperatureSoftmax(), solver="lbfgs",
                            max_iter=20, random_state=0).fit(X, y)
    except (ValueError, TypeError) as error:
        assert "TemperatureSoftmax" in str(error) or "softmax" in str(error)
        return
    p = forward_by_hand(X, clf.coefs_, clf.intercepts_, lambda z: np.maximum(z, 0),
                        lambda z: softmax(z / 2, axis=1))
    assert_allclose(clf.predict_proba(X), p, rtol=1e-12)
    assert check_gradients(clf, X, y).passed


# ----------------------------------------------------------------------
# Issue 18, item 5: the contract beyond shapes, and after the first step
# ----------------------------------------------------------------------
class SignFlippedDelta(PlainSquaredError):
    """½‖a − y‖² whose gradient is right but whose δ^L has the wrong sign."""

    def delta(self, y, z, a, activation):
        return -super().delta(y, z, a, activation)


class PlainCrossEntropy:
    """−Σ_k y_k log a_k with a softmax output; ``sign`` = −1 gives δ^L = y − a (wrong)."""

    def __init__(self, sign=1.0):
        self.sign = sign

    def __call__(self, y, a, sample_weight=None):
        per_sample = -(y * np.log(a)).sum(axis=1)
        return np.average(per_sample, weights=sample_weight)

    def gradient(self, y, a):
        return -y / a

    def delta(self, y, z, a, activation):  # the canonical simplification for softmax
        return self.sign * (a - y)

    def __repr__(self):
        return f"PlainCrossEntropy(sign={self.sign})"


@pytest.mark.parametrize("solver", SOLVERS)
def test_a_delta_of_the_wrong_sign_is_named_at_the_first_step(solver):
    X, y = regression_data()
    est = FNNRegressor((4,), loss=SignFlippedDelta(), solver=solver, max_iter=20,
                       random_state=0)
    with pytest.raises(ValueError) as error:
        est.fit(X, y)
    message = str(error.value)
    for part in ("SignFlippedDelta", "delta(y, z, a, activation)", "gradient(y, a)",
                 "derivative(z, a)"):
        assert part in message, (part, message)
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


def test_a_softmax_delta_is_checked_against_the_jacobian_product():
    X, y = classification_data(n=60, n_classes=3)
    params = dict(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=30, random_state=0)
    with pytest.raises(ValueError, match=r"PlainCrossEntropy\(sign=-1.0\).*delta.*vjp"):
        FNNClassifier(loss=PlainCrossEntropy(sign=-1.0), out_activation="softmax",
                      **params).fit(X, y)
    # The right simplification a − y is the Jacobian product up to rounding: accepted, and
    # the model is the built-in log-loss's.
    ours = FNNClassifier(loss=PlainCrossEntropy(), out_activation="softmax", **params)
    ref = FNNClassifier(**params).fit(X, y)
    assert_allclose(ours.fit(X, y).predict_proba(X), ref.predict_proba(X), rtol=1e-6,
                    atol=1e-9)


class ShapeShifter:
    """tanh that returns one column instead of all from its ``at``-th forward call."""

    def __init__(self, at):
        self.at, self.calls = at, 0

    def forward(self, z):
        self.calls += 1
        a = np.tanh(z)
        return a[:, :1] if self.calls >= self.at else a

    def derivative(self, z, a):
        return 1 - a**2

    def __repr__(self):
        return f"ShapeShifter(at={self.at})"


@pytest.mark.parametrize("solver", SOLVERS)
def test_a_wrong_shape_after_the_first_step_names_the_object(solver):
    """The 4th forward call broke a matrix product deep in the engine: numpy's words
    (matmul, core dimension) named nothing of the user's."""
    X, y = regression_data()
    est = FNNRegressor((3, 3), activation=ShapeShifter(at=4), solver=solver, batch_size=20,
                       max_iter=10, random_state=0)
    with pytest.raises(ValueError) as error:
        est.fit(X, y)
    message = str(error.value)
    rows = 60 if solver == "lbfgs" else 20  # a batch
    for part in ("ShapeShifter(at=4)", "forward(z)", f"({rows}, 1)", f"({rows}, 3)"):
        assert part in message, (part, message)
    assert isinstance(error.value.__cause__, ValueError)  # numpy's error, kept as the cause
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


class TwiceTanhDeclaringProbabilities:
    """2·tanh(z), declaring output_range=(0, 1): a false declaration."""

    output_range = (0.0, 1.0)

    def forward(self, z):
        return 2 * np.tanh(z)

    def derivative(self, z, a):
        return 2 - a**2 / 2

    def __repr__(self):
        return "TwiceTanhDeclaringProbabilities()"


def test_outputs_outside_the_declared_range_are_not_probabilities():
    """predict_proba was in [−2, 3] for an output activation that lied about its range."""
    X, y = classification_data()
    clf = FNNClassifier((4,), solver="lbfgs", max_iter=30, random_state=0).fit(X, y)
    clf._net = clf._net.replace(sigmas=[*clf._net.sigmas[:-1],
                                        TwiceTanhDeclaringProbabilities()])
    A = forward_by_hand(X, clf.coefs_, clf.intercepts_, lambda z: np.maximum(z, 0),
                        lambda z: 2 * np.tanh(z))
    assert A.min() < 0 or A.max() > 1  # the premise: the outputs are no probabilities
    for method in ("predict_proba", "predict_log_proba", "predict"):
        with pytest.raises(ValueError, match=r"TwiceTanhDeclaringProbabilities.*"
                                             r"output_range.*\[0, 1\]"):
            getattr(clf, method)(X)


def test_a_false_output_range_is_caught_when_training_starts():
    X, y = classification_data()
    clf = FNNClassifier((4,), out_activation=TwiceTanhDeclaringProbabilities(), max_iter=5,
                        random_state=0)
    with pytest.raises(ValueError, match=r"TwiceTanhDeclaringProbabilities.*forward\(z\).*"
                                         r"output_range"):
        clf.fit(X, y)


# ======================================================================
# 4. Single-class targets
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
# 5. Divergence is never silent
# ======================================================================
def assert_divergence_message(message, stochastic):
    assert message.startswith(SKLEARN_DIVERGENCE), message
    assert "diverged" in message
    assert ("learning_rate_init" in message) == stochastic, message


@pytest.mark.parametrize("early_stopping", [False, True])
def test_the_issues_exploding_sgd_classifier_raises(early_stopping):
    X, y = make_classification(n_samples=200, n_features=10, random_state=0)
    est = FNNClassifier((8,), solver="sgd", learning_rate_init=1e10, max_iter=30,
                        early_stopping=early_stopping, random_state=0)
    with pytest.raises(ValueError) as error:
        est.fit(X, y)
    assert_divergence_message(str(error.value), stochastic=True)
    assert "1e+10" in str(error.value) or "10000000000.0" in str(error.value)
    with pytest.raises(NotFittedError):  # the exploded model is not kept
        check_is_fitted(est)
    # scikit-learn returns the exploded model, with finite weights.
    ref = MLPClassifier((8,), solver="sgd", learning_rate_init=1e10, max_iter=30,
                        early_stopping=early_stopping, random_state=0).fit(X, y)
    assert ref.loss_ > 1e100 and np.isfinite(ref.loss_)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_an_exploding_adam_regressor_raises(early_stopping):
    X, y = make_regression(n_samples=200, n_features=10, noise=1.0, random_state=0)
    est = FNNRegressor((8,), solver="adam", learning_rate_init=100, max_iter=50,
                       early_stopping=early_stopping, random_state=0)
    with pytest.raises(ValueError) as error:
        est.fit(X, y)
    assert_divergence_message(str(error.value), stochastic=True)
    ref = MLPRegressor(hidden_layer_sizes=(8,), solver="adam", learning_rate_init=100,
                       max_iter=50, early_stopping=early_stopping, random_state=0).fit(X, y)
    assert ref.score(X, y) < -1000  # what scikit-learn hands back without a word


def test_lbfgs_divergence_does_not_blame_the_learning_rate():
    X, y = make_regression(n_samples=50, n_features=4, noise=1.0, random_state=0)
    est = FNNRegressor((5,), solver="lbfgs", loss="poisson", max_iter=20, random_state=0)
    with pytest.raises(ValueError) as error, np.errstate(all="ignore"):
        est.fit(X * 1000, np.abs(y) * 1000)
    assert_divergence_message(str(error.value), stochastic=False)


@pytest.mark.parametrize("Estimator, solver", [
    (FNNRegressor, "sgd"), (FNNRegressor, "adam"), (FNNRegressor, "lbfgs"),
    # Adam's steps are bounded by learning_rate_init: on X × 1e300 a classifier's clipped
    # log-loss stays finite and the weights barely move (scikit-learn's too): no divergence.
    (FNNClassifier, "sgd"), (FNNClassifier, "lbfgs")])
@pytest.mark.parametrize("start", ["fresh", "fitted", "warm_start"])
def test_overflowing_data_raises_the_divergence_error_for_every_solver(Estimator, solver,
                                                                       start):
    """Issue 18, item 6: L-BFGS's first evaluation overflowed (the regressor's loss, the
    classifier's gradient), scipy stopped at once, and the fit kept its random initial
    weights with loss_ = nan and only a ConvergenceWarning."""
    X, y = classification_data() if Estimator is FNNClassifier else regression_data()
    est = Estimator((5,), solver=solver, max_iter=20, warm_start=start == "warm_start",
                    random_state=0)
    if start != "fresh":
        est.fit(X, y)
    est._fault_X = X[:5]
    huge_y = y if Estimator is FNNClassifier else y * 1e200
    with np.errstate(all="ignore"):
        assert_failed_call_changed_nothing(est, lambda: est.fit(X * 1e300, huge_y),
                                           ValueError, "diverged")
        with pytest.raises(ValueError) as error, warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            est.fit(X * 1e300, huge_y)
    assert_divergence_message(str(error.value), stochastic=solver != "lbfgs")
    assert not [w for w in seen if "failed to converge" in str(w.message)]  # the error says it


def test_partial_fit_divergence_raises_and_keeps_the_previous_model():
    X, y = make_regression(n_samples=60, n_features=4, noise=1.0, random_state=0)
    est = FNNRegressor((5,), solver="sgd", learning_rate_init=1e-3, batch_size=20,
                       random_state=0).partial_fit(X / 100, y / 100)
    before = copy.deepcopy(est)
    with pytest.raises(ValueError) as error, np.errstate(all="ignore"):
        est.partial_fit(X * 1e4, y)  # unscaled data arriving in the stream
    assert_divergence_message(str(error.value), stochastic=True)
    assert_same_model(est, before)
    assert est.loss_curve_ == before.loss_curve_ and est.t_ == before.t_ == 60


def _scaled(loader, n_rows=300):
    X, y = loader(return_X_y=True)
    rows = np.random.RandomState(0).permutation(len(X))[:n_rows]
    return StandardScaler().fit_transform(X[rows]), y[rows]


def _sweep_cases():
    X, y = _scaled(load_diabetes, n_rows=442)
    y_std = (y - y.mean()) / y.std()
    cases = [(f"diabetes-{loss}", X, y_std, loss)
             for loss in ("squared_error", "absolute_error", "huber")]
    cases.append(("diabetes-poisson", X, y / y.mean(), "poisson"))
    cases.append(("diabetes-unscaled-y", X, y, "squared_error"))
    for loader in (load_digits, load_iris, load_breast_cancer, load_wine):
        Xc, yc = _scaled(loader)
        cases.append((loader.__name__[5:], Xc, yc, "log_loss"))
    return cases


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("case", _sweep_cases(), ids=lambda case: case[0])
def test_no_false_alarm_on_the_shipped_data_sets(solver, case):
    """Ordinary fits never trip the divergence guard; scikit-learn takes the same path."""
    name, X, y, loss = case
    classify = loss == "log_loss"
    params = dict(solver=solver, max_iter=15, random_state=0)
    est = (FNNClassifier if classify else FNNRegressor)(loss=loss, **params).fit(X, y)
    assert np.isfinite(est.loss_) and est.loss_ < est.loss_curve_[0]
    if loss in ("absolute_error", "huber"):  # losses scikit-learn's MLP does not have
        return
    if classify:
        ref = MLPClassifier(**params).fit(X, y)
        assert_allclose(est.predict_proba(X), ref.predict_proba(X), rtol=1e-6, atol=1e-9)
    else:
        ref = MLPRegressor(loss=loss, **params).fit(X, y)
        assert_allclose(est.predict(X), ref.predict(X), rtol=1e-6, atol=1e-9 * y.std())
    assert np.isfinite(ref.loss_)


@pytest.mark.parametrize("solver", STOCHASTIC)
def test_no_false_alarm_from_one_outlier_in_y(solver):
    """A stable fit on data with one large target is not a divergence.

    The loss of the epoch (dominated by the outlier) is compared with the loss of
    the first minibatch (which may not contain it); the fit itself does not grow.
    """
    rng = np.random.RandomState(0)
    X = rng.normal(size=(1000, 5))
    y = X @ rng.normal(size=5) + rng.normal(size=1000)
    y[-1] = 1e5  # one data-entry error
    params = dict(hidden_layer_sizes=(10,), solver=solver, max_iter=5, random_state=0)
    ref = MLPRegressor(**params).fit(X, y)
    assert np.isfinite(ref.loss_curve_).all() and ref.loss_curve_[-1] <= ref.loss_curve_[0]
    est = FNNRegressor(**params).fit(X, y)
    assert_allclose(est.loss_curve_, ref.loss_curve_, rtol=1e-6)


# ======================================================================
# 6. A failed fit changes nothing
# ======================================================================
#: Held by identity, not compared by value: the parameters, the network, the callbacks
#: (which a callback may change while it runs: they are the user's objects).
_SAME_OBJECTS = {"_net", "_skl_callbacks"}


def snapshot(est):
    """What must survive a failed call: a deep copy of the state, and the objects themselves."""
    params = set(est.get_params(deep=False)) | _SAME_OBJECTS
    state = {k: copy.deepcopy(v) for k, v in vars(est).items() if k not in params}
    objects = dict(vars(est))
    arrays = list(getattr(est, "coefs_", [])) + list(getattr(est, "intercepts_", []))
    return state, objects, arrays


def assert_unchanged(est, before):
    state, objects, arrays = before
    assert vars(est).keys() == objects.keys()
    for k, v in objects.items():
        if k in state:
            assert_equal_state(vars(est)[k], state[k], k)
        else:  # parameters and the network: the very same objects
            assert vars(est)[k] is v, k
    if not hasattr(est, "coefs_"):
        return
    assert all(a is b for a, b in zip(est.coefs_ + est.intercepts_, arrays, strict=True))
    assert all(W.base is est._theta for W in est.coefs_ + est.intercepts_)


def warm_started(solver, activation, early_stopping=False):
    X, y = regression_data()
    est = FNNRegressor((5,), activation=activation, solver=solver, max_iter=4,
                       batch_size=20, warm_start=True, early_stopping=early_stopping,
                       validation_fraction=0.2, learning_rate_init=0.01, random_state=0)
    return est.fit(X, y), X, y


@pytest.mark.parametrize("Estimator", [FNNRegressor, FNNClassifier])
@pytest.mark.parametrize("solver", SOLVERS)
def test_a_fit_from_scratch_that_fails_leaves_the_estimator_unfitted(Estimator, solver):
    X, y = classification_data()
    est = Estimator((5,), activation=Bomb(at=4), solver=solver, max_iter=10, batch_size=20,
                    random_state=0)
    params = dict(vars(est))
    with pytest.raises(RuntimeError, match="bomb at forward call 4"):
        est.fit(X, y)
    assert vars(est) == params
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


@pytest.mark.parametrize("solver, early_stopping", [
    ("sgd", False), ("adam", False), ("lbfgs", False), ("sgd", True), ("adam", True)])
def test_a_failed_warm_start_restores_everything_then_training_continues_exactly(
        solver, early_stopping):
    est, X, y = warm_started(solver, Bomb(), early_stopping)
    untouched = copy.deepcopy(est)
    before = snapshot(est)
    est.activation.at = est.activation.calls + 5  # in the second epoch of the next fit
    with pytest.raises(RuntimeError, match="bomb"):
        est.fit(X, y)
    assert_unchanged(est, before)
    est.activation.at = untouched.activation.at = None
    for a in (est, untouched):
        a.fit(X, y)
    assert_same_model(est, untouched)
    assert est.loss_curve_ == untouched.loss_curve_
    assert est.n_iter_ == untouched.n_iter_ and est.t_ == untouched.t_


@pytest.mark.parametrize("solver", STOCHASTIC)
@pytest.mark.parametrize("Estimator", [FNNRegressor, FNNClassifier])
def test_a_failed_partial_fit_restores_everything_then_training_continues_exactly(
        solver, Estimator):
    X, y = classification_data()
    est = Estimator((5,), activation=Bomb(), solver=solver, batch_size=20, random_state=0)
    first = dict(classes=[0, 1]) if Estimator is FNNClassifier else {}
    est.partial_fit(X, y, **first)
    est.partial_fit(X, y)
    untouched = copy.deepcopy(est)
    before = snapshot(est)
    est.activation.at = est.activation.calls + 2  # the third minibatch
    with pytest.raises(RuntimeError, match="bomb"):
        est.partial_fit(X, y)
    assert_unchanged(est, before)
    est.activation.at = untouched.activation.at = None
    for a in (est, untouched):
        a.partial_fit(X, y)
    assert_same_model(est, untouched)
    assert vars(est._optimizer).keys() == vars(untouched._optimizer).keys()
    for k, v in vars(untouched._optimizer).items():
        assert_equal_state(vars(est._optimizer)[k], v, f"_optimizer.{k}")


def test_a_failed_first_partial_fit_of_a_classifier_leaves_no_classes():
    X, y = classification_data()
    est = FNNClassifier((5,), activation=Bomb(at=1))
    with pytest.raises(RuntimeError):
        est.partial_fit(X, y, classes=[0, 1])
    assert not hasattr(est, "classes_") and not hasattr(est, "coefs_")
    est.activation.at = None
    est.partial_fit(X, y, classes=[0, 1])  # the first call is the first call again
    assert_array_equal(est.classes_, [0, 1])


def test_a_failed_refit_keeps_the_previous_model():
    X, y = regression_data()
    est = FNNRegressor((5,), activation=Bomb(), solver="lbfgs", max_iter=10,
                       random_state=0).fit(X, y)
    prediction = est.predict(X)
    before = snapshot(est)
    est.activation.at = est.activation.calls + 3
    with pytest.raises(RuntimeError):
        est.fit(X[:30], y[:30])  # warm_start=False: a fresh fit on other data
    assert_unchanged(est, before)
    assert_array_equal(est.predict(X), prediction)


def test_a_failed_fit_leaves_the_users_loss_curve_list_as_it_was():
    """The list object a user holds (est.loss_curve_) keeps its contents and stays the
    estimator's: "exactly as it was" includes the objects, not only equal copies."""
    est, X, y = warm_started("adam", Bomb())
    curve = est.loss_curve_
    length = len(curve)
    est.activation.at = est.activation.calls + 5
    with pytest.raises(RuntimeError):
        est.fit(X, y)
    assert len(curve) == length, f"the held list grew to {len(curve)} entries"
    assert est.loss_curve_ is curve


class _Failing:
    """Wraps the engine's loss_and_gradient to raise ``error`` on its ``at``-th call."""

    def __init__(self, at, error):
        from skfnn import _engine

        self.original, self.at, self.error, self.calls = _engine.loss_and_gradient, at, error, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.at:
            raise self.error()
        return self.original(*args, **kwargs)


@pytest.mark.parametrize("solver", SOLVERS)
def test_memory_error_mid_fit_restores_everything(solver, monkeypatch):
    from skfnn import _engine

    est, X, y = warm_started(solver, "relu")
    untouched = copy.deepcopy(est)
    before = snapshot(est)
    monkeypatch.setattr(_engine, "loss_and_gradient", _Failing(4, MemoryError))
    with pytest.raises(MemoryError):
        est.fit(X, y)
    assert_unchanged(est, before)
    monkeypatch.undo()
    est.fit(X, y)
    untouched.fit(X, y)
    assert_same_model(est, untouched)


@pytest.mark.parametrize("solver", SOLVERS)
def test_memory_error_in_a_fit_from_scratch_leaves_it_unfitted(solver, monkeypatch):
    from skfnn import _engine

    X, y = regression_data()
    monkeypatch.setattr(_engine, "loss_and_gradient", _Failing(3, MemoryError))
    est = FNNRegressor((5,), solver=solver, batch_size=20, max_iter=5)
    with pytest.raises(MemoryError):
        est.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


@pytest.mark.parametrize("solver", STOCHASTIC)
def test_keyboard_interrupt_keeps_the_model_of_the_steps_that_ran(solver):
    X, y = regression_data()
    params = dict(hidden_layer_sizes=(5,), solver=solver, batch_size=10, shuffle=False,
                  learning_rate_init=0.01, random_state=0)
    # 6 minibatches per epoch: the 15th forward call is the third step of epoch 3.
    est = FNNRegressor(activation=Bomb(at=15, error=KeyboardInterrupt), max_iter=50, **params)
    with pytest.warns(UserWarning, match="Training interrupted by user."):
        est.fit(X, y)
    assert est.n_iter_ == len(est.loss_curve_) == 2
    # The same 14 steps another way: two epochs, then an epoch of two minibatches.
    ref = FNNRegressor(activation="tanh", max_iter=2, **params).fit(X, y)
    ref.partial_fit(X[:20], y[:20])
    assert_same_model(est, ref, rtol=1e-12)
    by_hand = forward_by_hand(X, est.coefs_, est.intercepts_, np.tanh, lambda z: z)
    assert_allclose(est.predict(X), by_hand.ravel(), rtol=1e-12)


def test_keyboard_interrupt_in_lbfgs_keeps_the_last_completed_iterate():
    X, y = regression_data()
    est = FNNRegressor((5,), activation=Bomb(at=12, error=KeyboardInterrupt), solver="lbfgs",
                       alpha=0.01, max_iter=100, random_state=0)
    with pytest.warns(UserWarning, match="Training interrupted by user."):
        est.fit(X, y)
    assert 0 < est.n_iter_ == len(est.loss_curve_) < 12
    J = squared_error_objective(X, y, est.coefs_, est.intercepts_, 0.01)
    assert est.loss_curve_[-1] == pytest.approx(J, rel=1e-10)
    assert est.loss_ == pytest.approx(J, rel=1e-10)
    # The iterations that ran are those of an uninterrupted fit.
    ref = FNNRegressor((5,), activation="tanh", solver="lbfgs", alpha=0.01, max_iter=100,
                       random_state=0).fit(X, y)
    assert_allclose(est.loss_curve_, ref.loss_curve_[:est.n_iter_], rtol=1e-10)


# ----------------------------------------------------------------------
# Fault injection: every exception a fit raises, wherever it comes from
# ----------------------------------------------------------------------
class CallbackFault(Exception):
    """Raised by :class:`RaisingCallback`: no other code raises it."""


class RaisingCallback:
    """A scikit-learn FitCallback that raises :class:`CallbackFault` at one hook point.

    ``point`` is (hook, task, n): the n-th call of ``hook`` ("setup", "begin",
    "end", "teardown") for ``task`` ("root": the fit; "sub": an epoch or L-BFGS
    iteration; None for setup and teardown).
    """

    def __init__(self, point):
        self.point, self.seen = point, {}

    def _reached(self, hook, context=None):
        task = None if context is None else ("root" if context.parent is None else "sub")
        key = (hook, task)
        self.seen[key] = self.seen.get(key, 0) + 1
        if (hook, task, self.seen[key]) == self.point:
            raise CallbackFault(f"{self.point} reached")

    def setup(self, estimator, context):
        self._reached("setup")

    def teardown(self, estimator, context):
        self._reached("teardown")

    def on_fit_task_begin(self, estimator, context, **kwargs):
        self._reached("begin", context)

    def on_fit_task_end(self, estimator, context, **kwargs):
        self._reached("end", context)
        return False


_HOOK_POINTS = [("setup", None, 1), ("begin", "root", 1), ("begin", "sub", 1),
                ("end", "sub", 1), ("begin", "sub", 2), ("end", "sub", 2),
                ("end", "root", 1), ("teardown", None, 1)]


def _fault_cases():
    """(point, solver, method, start) for every hook point a call reaches."""
    cases = []
    for point in _HOOK_POINTS:
        for solver in SOLVERS:
            for method, starts in (("fit", ("fresh", "fitted", "warm_start")),
                                   ("partial_fit", ("fresh", "fitted"))):
                if method == "partial_fit" and (solver == "lbfgs" or point[2] > 1):
                    continue  # no partial_fit for L-BFGS; one epoch per partial_fit call
                cases += [(point, solver, method, start) for start in starts]
    return cases


def _started(Estimator, solver, method, start, X, y):
    """A fresh estimator, or one already fitted (by ``method``), for the fault cases."""
    est = Estimator((4,), solver=solver, max_iter=3, batch_size=20,
                    warm_start=start == "warm_start", random_state=0)
    first = {"classes": [0, 1]} if Estimator is FNNClassifier and method == "partial_fit" \
        else {}
    if start != "fresh":
        getattr(est, method)(X, y, **first)
    return est, first if start == "fresh" else {}


def assert_failed_call_changed_nothing(est, call, error, match):
    """``call()`` raises ``error``; est is exactly as before: state by value, objects by
    identity, and an unfitted estimator still unfitted."""
    fitted = hasattr(est, "coefs_")
    before = snapshot(est)
    prediction = est.predict(est._fault_X) if fitted else None
    with pytest.raises(error, match=match):
        call()
    assert_unchanged(est, before)
    if fitted:
        assert_array_equal(est.predict(est._fault_X), prediction)
    else:
        with pytest.raises(NotFittedError):
            check_is_fitted(est)


@pytest.mark.skipif(not HAS_CALLBACKS, reason="sklearn.callback needs scikit-learn >= 1.9")
@pytest.mark.parametrize("Estimator", [FNNRegressor, FNNClassifier])
@pytest.mark.parametrize("point, solver, method, start", _fault_cases(), ids=str)
def test_a_callback_raising_at_any_hook_point_leaves_the_estimator_as_it_was(
        Estimator, point, solver, method, start):
    """Issue 18, item 1: the root task's end and the teardown ran outside the rollback."""
    X, y = classification_data()
    est, first = _started(Estimator, solver, method, start, X, y)
    est.set_callbacks(RaisingCallback(point))
    est._fault_X = X[:5]  # plain state: it must survive too
    assert_failed_call_changed_nothing(est, lambda: getattr(est, method)(X, y, **first),
                                       CallbackFault, "reached")
    del est._fault_X
    # The same callback list, with nothing raising, trains as before the failure.
    est.set_callbacks(RaisingCallback(None))
    getattr(est, method)(X, y, **first)
    assert np.isfinite(est.loss_)


class CountingLoss(PlainSquaredError):
    """½‖a − y‖² raising RuntimeError on the ``at``-th call of ``method``."""

    def __init__(self, method, at):
        self.method, self.at, self.calls = method, at, 0

    def _count(self, method):
        if method == self.method:
            self.calls += 1
            if self.calls == self.at:
                raise RuntimeError(f"loss {method} failed at call {self.calls}")

    def __call__(self, y, a, sample_weight=None):
        self._count("__call__")
        return super().__call__(y, a, sample_weight)

    def gradient(self, y, a):
        self._count("gradient")
        return super().gradient(y, a)

    def delta(self, y, z, a, activation):
        self._count("delta")
        return super().delta(y, z, a, activation)


class FailingScorer:
    """A scoring callable that raises on its ``at``-th call."""

    def __init__(self, at):
        self.at, self.calls = at, 0

    def __call__(self, estimator, X, y, sample_weight=None):
        self.calls += 1
        if self.calls == self.at:
            raise RuntimeError(f"scorer failed at call {self.calls}")
        return -float(np.mean((estimator.predict(X) - y) ** 2))


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("start", ["fresh", "fitted", "warm_start"])
@pytest.mark.parametrize("fault", ["__call__", "gradient", "delta", "scorer"])
def test_a_fault_later_in_training_leaves_the_estimator_as_it_was(solver, start, fault):
    """A custom loss failing on its n-th call, or a scorer on its n-th epoch (X_val)."""
    X, y = regression_data()
    est = FNNRegressor((4,), solver=solver, max_iter=6, batch_size=20, tol=0,
                       n_iter_no_change=100, warm_start=start == "warm_start",
                       loss=CountingLoss(None, None), scoring=FailingScorer(None),
                       random_state=0)
    if start != "fresh":
        est.fit(X, y, X_val=X[:10], y_val=y[:10])
    est._fault_X = X[:5]
    if fault == "scorer":
        est.scoring.at = est.scoring.calls + 3
    else:
        est.loss.method, est.loss.calls, est.loss.at = fault, 0, 5
    assert_failed_call_changed_nothing(
        est, lambda: est.fit(X, y, X_val=X[:10], y_val=y[:10]), RuntimeError, "failed at")


# ======================================================================
# 7. The model at predict time
# ======================================================================
def fitted_classifier():
    X, y = classification_data(n_classes=3)
    return FNNClassifier((5,), solver="lbfgs", max_iter=10, random_state=0).fit(X, y), X, y


CORRUPTIONS = {
    "nan": (lambda e: e.coefs_[0].__setitem__((0, 0), np.nan), r"coefs_\[0\].*non-finite"),
    "inf": (lambda e: e.intercepts_[1].__setitem__(0, np.inf), r"intercepts_\[1\].*non-finite"),
    "complex": (lambda e: e.coefs_.__setitem__(1, e.coefs_[1] + 1j),
                r"coefs_\[1\].*complex128"),
    "string": (lambda e: e.coefs_.__setitem__(0, e.coefs_[0].astype(str)), r"coefs_\[0\].*<U"),
    "object": (lambda e: e.intercepts_.__setitem__(0, e.intercepts_[0].astype(object)),
               r"intercepts_\[0\].*object"),
}


@pytest.mark.parametrize("corruption", CORRUPTIONS)
@pytest.mark.parametrize("method", ["predict", "predict_proba", "predict_log_proba", "score",
                                    "partial_fit"])
def test_unusable_parameters_get_a_clear_error(corruption, method):
    est, X, y = fitted_classifier()
    est.set_params(solver="adam")
    mutate, message = CORRUPTIONS[corruption]
    mutate(est)
    call = getattr(est, method)
    with pytest.raises(ValueError, match=message):
        call(X, y) if method in ("score", "partial_fit") else call(X)


def test_parameters_assigned_as_nested_lists_work_or_get_a_clear_error():
    est, X, y = fitted_classifier()
    expected = est.predict_proba(X)
    est.coefs_[0] = est.coefs_[0].tolist()
    for method in ("predict_proba", "predict_log_proba"):
        try:
            got = getattr(est, method)(X)
        except (ValueError, TypeError) as error:
            assert "coefs_[0]" in str(error), str(error)
            continue
        assert_allclose(np.exp(got) if method == "predict_log_proba" else got, expected,
                        rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.int64, bool])
def test_integer_parameters_train_like_floats_or_get_a_clear_error(dtype):
    X, y = regression_data()
    est = FNNRegressor((5,), solver="sgd", max_iter=5, random_state=0).fit(X, y)
    est.coefs_ = [np.ones(W.shape, dtype=dtype) for W in est.coefs_]
    est.intercepts_ = [np.zeros(b.shape, dtype=dtype) for b in est.intercepts_]
    as_float = copy.deepcopy(est)
    as_float.coefs_ = [W.astype(float) for W in est.coefs_]
    as_float.intercepts_ = [b.astype(float) for b in est.intercepts_]
    assert_allclose(est.predict(X), as_float.predict(X), rtol=1e-12)  # predict accepts them
    try:
        est.partial_fit(X, y)
    except (ValueError, TypeError) as error:
        assert "coefs_" in str(error) or "intercepts_" in str(error), str(error)
        return
    as_float.partial_fit(X, y)
    assert_same_model(est, as_float, rtol=1e-12)


def test_non_finite_outputs_of_a_custom_activation_at_predict_are_not_a_class():
    """NaN weights get an error (above); NaN outputs must not become classes_[0] either."""
    X, y = classification_data()
    clf = FNNClassifier((5,), activation=NanBeyondFive(), solver="lbfgs", max_iter=30,
                        random_state=0).fit(X, y)
    # L-BFGS stopped on a line search into the NaN region; loss_ is that of the weights it
    # kept (scipy reports its last trial's NaN), recomputed by hand: log-loss + α‖W‖²/2n.
    p = forward_by_hand(X, clf.coefs_, clf.intercepts_, NanBeyondFive().forward,
                        expit).ravel()
    log_loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    penalty = 0.5 * clf.alpha * sum((W**2).sum() for W in clf.coefs_) / len(X)
    assert clf.loss_ == pytest.approx(log_loss + penalty, rel=1e-10)
    far = X * 100
    with np.errstate(invalid="ignore"):
        by_hand = forward_by_hand(far, clf.coefs_, clf.intercepts_, NanBeyondFive().forward,
                                  expit)
    assert np.isnan(by_hand).any()  # the premise: this network's outputs are NaN there
    with pytest.raises(ValueError, match="non-finite|nan"), np.errstate(invalid="ignore"):
        clf.predict(far)


# ======================================================================
# 8. BLAS threads: the divergence check runs inside the one-thread limit
# ======================================================================
def test_the_final_divergence_check_runs_under_the_fits_blas_limit(monkeypatch):
    from threadpoolctl import threadpool_info, threadpool_limits

    from skfnn import _hooks

    def blas_threads():
        return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}

    seen = []
    original = _hooks.DivergenceGuard.end

    def recording_end(self, run):
        seen.append(blas_threads())
        return original(self, run)

    monkeypatch.setattr(_hooks.DivergenceGuard, "end", recording_end)
    X, y = regression_data()
    with threadpool_limits(limits=2, user_api="blas"):
        for solver in SOLVERS:
            FNNRegressor((5,), solver=solver, max_iter=3, random_state=0).fit(X, y)
        assert blas_threads() == {2}
    assert seen == [{1}] * 3


# ======================================================================
# 9. Pickles
# ======================================================================
def test_a_pickle_carries_the_version_and_loads_silently_under_the_same_one():
    est = FNNRegressor((3,), max_iter=3, random_state=0).fit(*regression_data())
    assert est.__getstate__()["_skfnn_version"] == skfnn.__version__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pickle.loads(pickle.dumps(est))


@pytest.mark.parametrize("Estimator", [FNNRegressor, FNNClassifier])
def test_loading_a_pickle_of_another_version_warns(Estimator, monkeypatch):
    from sklearn.exceptions import InconsistentVersionWarning as SklearnWarning

    from skfnn import _state
    from skfnn.exceptions import InconsistentVersionWarning

    X, y = classification_data()
    data = pickle.dumps(Estimator((3,), max_iter=3, random_state=0).fit(X, y))
    monkeypatch.setattr(_state, "__version__", "99.0")
    with pytest.warns(InconsistentVersionWarning) as record:
        loaded = pickle.loads(data)
    warning = record[0].message
    assert warning.original_version == skfnn.__version__ and warning.current_version == "99.0"
    assert warning.original_sklearn_version == skfnn.__version__  # scikit-learn's names
    assert Estimator.__name__ in str(warning) and "skfnn version" in str(warning)
    with pytest.warns(SklearnWarning):  # code filtering scikit-learn's warning sees it
        again = pickle.loads(data)
    assert_array_equal(loaded.predict(X), again.predict(X))


def test_a_state_without_a_version_stamp_warns_unknown():
    from skfnn.exceptions import InconsistentVersionWarning

    est = FNNRegressor((3,), max_iter=3, random_state=0).fit(*regression_data())
    state = est.__getstate__()
    del state["_skfnn_version"]
    with pytest.warns(InconsistentVersionWarning, match="version unknown"):
        FNNRegressor().__setstate__(state)


@pytest.mark.parametrize("solver", STOCHASTIC)
def test_the_pickle_holds_no_best_weights_without_early_stopping(solver):
    X, y = make_regression(n_samples=300, n_features=20, random_state=0)
    sizes = {}
    for early_stopping in (False, True):
        est = FNNRegressor((50,), solver=solver, max_iter=3, early_stopping=early_stopping,
                           random_state=0).fit(X, y)
        assert ("_best_theta" in est.__getstate__()) == early_stopping
        sizes[early_stopping] = len(pickle.dumps(est))
    theta_bytes = sum(p.nbytes for p in est.coefs_ + est.intercepts_)
    optimizer_bytes = sum(v.nbytes for v in vars(est._optimizer).values()
                          if isinstance(v, np.ndarray))
    # Early stopping adds one θ (the best weights), and nothing else is stored twice.
    assert theta_bytes <= sizes[True] - sizes[False] < theta_bytes + 500
    assert sizes[False] < theta_bytes + optimizer_bytes + 4000


def test_an_lbfgs_pickle_holds_the_weights_once():
    X, y = make_regression(n_samples=300, n_features=20, random_state=0)
    est = FNNRegressor((50,), solver="lbfgs", max_iter=3, random_state=0).fit(X, y)
    theta_bytes = sum(p.nbytes for p in est.coefs_ + est.intercepts_)
    assert theta_bytes < len(pickle.dumps(est)) < theta_bytes + 4000


@pytest.mark.parametrize("Estimator, solver", [(FNNRegressor, "adam"), (FNNRegressor, "lbfgs"),
                                               (FNNClassifier, "sgd")])
def test_the_pickled_state_is_plain_data(Estimator, solver):
    """Loading it needs numpy, the estimator class and (classifier) LabelBinarizer only."""
    X, y = classification_data(n_classes=3)
    est = Estimator((4,), activation="leaky_relu", solver=solver, max_iter=3,
                    random_state=0).fit(X, y)
    allowed = {("skfnn._regressor", "FNNRegressor"), ("skfnn._classifier", "FNNClassifier"),
               ("sklearn.preprocessing._label", "LabelBinarizer")}

    class PlainDataUnpickler(pickle.Unpickler):
        def find_class(self, module, name):
            assert module.split(".")[0] == "numpy" or (module, name) in allowed, (module, name)
            return super().find_class(module, name)

    loaded = PlainDataUnpickler(io.BytesIO(pickle.dumps(est))).load()
    assert_array_equal(loaded.predict(X), est.predict(X))


# ======================================================================
# 10. Smaller items
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

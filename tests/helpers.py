"""What several test modules share: plain (duck-typed) and deliberately broken
activations and losses, small data sets, the network recomputed by hand from
``coefs_``, and assertions on estimators' state.

Expected values in the tests come from independent computations: the network
recomputed by hand with numpy, the built-in equivalent of a plain object,
scikit-learn's MLP on the same data, an untouched copy of the estimator, or the
same quantity reached by another code path.
"""

import copy
import runpy
import warnings
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit, softmax
from sklearn.datasets import load_iris, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from skfnn import Activation
from skfnn.activations import Logistic, Softmax

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


# The iris data, standardised (output activations, dropout, initialisation).
X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_IRIS = StandardScaler().fit_transform(X_IRIS)


def quiet(fit, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit(*args, **kwargs)


def hidden_output(est, X):
    """The last hidden layer's activations, for relu hidden layers."""
    A = X
    for W, b in zip(est.coefs_[:-1], est.intercepts_[:-1], strict=True):
        A = np.maximum(A @ W + b, 0)
    return A @ est.coefs_[-1] + est.intercepts_[-1]


# A regression data set (dropout, initialisation).
XR, YR = make_regression(n_samples=120, n_features=5, noise=5.0, random_state=0)
YR = YR / YR.std()


#: The repository's root (docs/, benchmarks/).
ROOT = Path(__file__).resolve().parents[1]


def run_script(relative):
    """The globals of a repository script (docs/plots/*.py, benchmarks/*.py), run by path."""
    return runpy.run_path(str(ROOT / relative))


def docs_figure_script(name):
    """docs/plots/<name>.py's globals, once its figure docs/plots/<name>.png is checked
    to be committed."""
    assert (ROOT / "docs" / "plots" / f"{name}.png").is_file()  # committed
    return run_script(f"docs/plots/{name}.py")

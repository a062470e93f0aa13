"""skfnn agrees with scikit-learn's MLP wherever it claims to.

(a) The same weights give the same predictions.
(b) The same initial weights and the same data give the same SGD / Adam steps.
(c) The same ``random_state`` gives the same initial weights.

scikit-learn is the reference: its estimators are trained (or initialised) here
side by side with skfnn's, with identical parameters.
"""

import warnings
from unittest import mock

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from threadpoolctl import threadpool_limits

from skfnn import FNNClassifier, FNNRegressor, _fitting

SK_ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]
N_SAMPLES, N_FEATURES = 20, 4


def _data(n=N_SAMPLES, seed=42):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, N_FEATURES))
    signal = np.sin(X[:, 0]) + X[:, 1] * X[:, 2] - 0.5 * X[:, 3]
    labels = np.array(["ant", "bee", "cat"])
    return X, {
        "regression": signal,
        "regression-2-outputs": np.column_stack([signal, X[:, 0] - X[:, 3] ** 2]),
        "poisson": rng.poisson(np.exp(0.5 * signal)).astype(float),
        "binary": np.where(signal > 0, "yes", "no"),
        "multiclass": labels[np.digitize(signal, [-0.5, 0.5])],
        "multilabel": np.column_stack([signal > 0, X[:, 0] > 0, X[:, 1] > 0.3]).astype(int),
    }


X, TARGETS = _data()
TASKS = list(TARGETS)
SAMPLE_WEIGHT = np.random.RandomState(7).uniform(0.2, 2.0, N_SAMPLES)


def _pair(task, **params):
    """(skfnn estimator, scikit-learn estimator) with the same parameters."""
    if task.startswith("regression") or task == "poisson":
        if task == "poisson":
            params["loss"] = "poisson"
        return FNNRegressor(**params), MLPRegressor(**params)
    return FNNClassifier(**params), MLPClassifier(**params)


def _is_classifier(task):
    return task in ("binary", "multiclass", "multilabel")


def _quietly(fit, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit(*args, **kwargs)


def _initial_weights(est, X, y):
    """The weights ``fit`` initialises, read before any optimizer step.

    What runs the training loop (skfnn's ``_fitting.train``, scikit-learn's
    ``_fit_stochastic`` method) is replaced by a no-op, so ``fit`` stops right
    after initialising.
    """
    no_op = lambda *args, **kwargs: None  # noqa: E731
    if isinstance(est, (FNNClassifier, FNNRegressor)):
        with mock.patch.object(_fitting, "train", no_op):
            est.fit(X, y)
    else:
        est._fit_stochastic = no_op
        est.fit(X, y)
        del est._fit_stochastic
    return [W.copy() for W in est.coefs_], [b.copy() for b in est.intercepts_]


def _assert_same_weights(ours, theirs, rtol):
    assert len(ours.coefs_) == len(theirs.coefs_)
    for name in ("coefs_", "intercepts_"):
        for mine, ref in zip(getattr(ours, name), getattr(theirs, name), strict=True):
            assert mine.dtype == ref.dtype
            np.testing.assert_allclose(mine, ref, rtol=rtol, atol=1e-14)


# ----------------------------------------------------------------------------
# (c) the same random_state gives the same initial network
# ----------------------------------------------------------------------------


def _glorot_by_hand(activation, layer_units, seed, dtype):
    """scikit-learn's initialisation, as documented: W^l, b^l ~ U(±sqrt(f / (fan_in + fan_out))),
    f = 2 for logistic and 6 otherwise, drawn W^1, b^1, W^2, b^2, ... from RandomState(seed)."""
    rng = np.random.RandomState(seed)
    factor = 2.0 if activation == "logistic" else 6.0
    Ws, bs = [], []
    for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:], strict=True):
        bound = np.sqrt(factor / (fan_in + fan_out))
        Ws.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype))
        bs.append(rng.uniform(-bound, bound, fan_out).astype(dtype))
    return Ws, bs


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("hidden", [(5,), (5, 3)], ids=["hidden=5", "hidden=5-3"])
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("activation", SK_ACTIVATIONS)
def test_same_random_state_same_initial_weights(activation, task, hidden, dtype):
    ours, theirs = _pair(task, hidden_layer_sizes=hidden, activation=activation,
                         solver="sgd", random_state=3)
    X_typed, y = X.astype(dtype), TARGETS[task]
    W_ours, b_ours = _initial_weights(ours, X_typed, y)
    W_theirs, b_theirs = _initial_weights(theirs, X_typed, y)
    n_out = theirs.n_outputs_
    W_hand, b_hand = _glorot_by_hand(activation, [N_FEATURES, *hidden, n_out], 3, dtype)
    for mine, ref, hand in zip(W_ours + b_ours, W_theirs + b_theirs, W_hand + b_hand, strict=True):
        assert mine.dtype == ref.dtype == dtype
        np.testing.assert_array_equal(ref, hand)  # the reference does what we think it does
        np.testing.assert_array_equal(mine, ref)


# ----------------------------------------------------------------------------
# (a) the same weights give the same predictions
# ----------------------------------------------------------------------------


def _random_weights(est, seed):
    rng = np.random.RandomState(seed)
    Ws = [rng.normal(0.0, 1.0, W.shape) for W in est.coefs_]
    bs = [rng.normal(0.0, 0.5, b.shape) for b in est.intercepts_]
    return Ws, bs


@pytest.mark.parametrize("weights", ["skfnn_fitted", "random_assigned"])
@pytest.mark.parametrize("hidden", [(5,), (5, 3)], ids=["hidden=5", "hidden=5-3"])
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("activation", SK_ACTIVATIONS)
def test_same_weights_same_predictions(activation, task, hidden, weights):
    y = TARGETS[task]
    ours, theirs = _pair(task, hidden_layer_sizes=hidden, activation=activation, max_iter=1,
                         random_state=0)
    _quietly(ours.fit, X, y)
    _quietly(theirs.fit, X, y)
    if weights == "random_assigned":
        # coefs_ / intercepts_ are the model: assigning new arrays changes predict.
        Ws, bs = _random_weights(ours, seed=1)
        ours.coefs_ = [W.copy() for W in Ws]
        ours.intercepts_ = [b.copy() for b in bs]
    theirs.coefs_ = [W.copy() for W in ours.coefs_]
    theirs.intercepts_ = [b.copy() for b in ours.intercepts_]
    X_new = np.random.RandomState(2).normal(0.0, 1.5, (30, N_FEATURES))

    if not _is_classifier(task):
        prediction = ours.predict(X_new)
        assert prediction.shape == theirs.predict(X_new).shape
        np.testing.assert_allclose(prediction, theirs.predict(X_new), rtol=1e-12, atol=1e-14)
        assert prediction.std(axis=0).max() > 1e-3
        return
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    proba = ours.predict_proba(X_new)
    assert proba.shape == theirs.predict_proba(X_new).shape
    np.testing.assert_allclose(proba, theirs.predict_proba(X_new), rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(ours.predict(X_new), theirs.predict(X_new))
    # log-probabilities: compare where scikit-learn's log(p) is not rounding-limited
    ref_log = theirs.predict_log_proba(X_new)
    ok = theirs.predict_proba(X_new) > 1e-6
    np.testing.assert_allclose(ours.predict_log_proba(X_new)[ok], ref_log[ok], rtol=1e-8,
                               atol=1e-10)
    # the comparison is only meaningful if the network's output depends on its input
    assert proba.std(axis=0).max() > 1e-3


# ----------------------------------------------------------------------------
# (b) the same initial weights give the same optimizer steps
# ----------------------------------------------------------------------------

SOLVERS = {
    "sgd-nesterov-0.9": dict(solver="sgd", momentum=0.9, nesterovs_momentum=True,
                             learning_rate_init=0.05),
    "sgd-momentum-0.9": dict(solver="sgd", momentum=0.9, nesterovs_momentum=False,
                             learning_rate_init=0.05),
    "sgd-momentum-0": dict(solver="sgd", momentum=0.0, learning_rate_init=0.05),
    "adam": dict(solver="adam", learning_rate_init=0.01),
}


def _penalty(est, alpha, sw_sum):
    return 0.5 * alpha * sum((W**2).sum() for W in est.coefs_) / sw_sum


def _train(est, task, method, n_steps, sample_weight):
    y = TARGETS[task]
    if method == "fit":
        est.set_params(max_iter=n_steps)
        _quietly(est.fit, X, y, sample_weight=sample_weight)
        return
    for _ in range(n_steps):
        kwargs = {}
        if _is_classifier(task):
            kwargs["classes"] = np.unique(y) if task != "multilabel" else np.arange(y.shape[1])
        _quietly(est.partial_fit, X, y, sample_weight=sample_weight, **kwargs)


@pytest.mark.parametrize("n_steps", [1, 3], ids=["1-step", "3-steps"])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("task", TASKS)
def test_full_batch_steps_match(task, solver, weighted, method, n_steps):
    alpha = 0.01
    params = dict(hidden_layer_sizes=(5, 3), activation="tanh", alpha=alpha,
                  batch_size=N_SAMPLES, shuffle=False, random_state=0, **SOLVERS[solver])
    sw = SAMPLE_WEIGHT if weighted else None
    y = TARGETS[task]

    # The starting point is the same network.
    W0_ours, b0_ours = _initial_weights(_pair(task, **params)[0], X, y)
    W0_theirs, b0_theirs = _initial_weights(_pair(task, **params)[1], X, y)
    for mine, ref in zip(W0_ours + b0_ours, W0_theirs + b0_theirs, strict=True):
        np.testing.assert_array_equal(mine, ref)

    ours, theirs = _pair(task, **params)
    _train(ours, task, method, n_steps, sw)
    _train(theirs, task, method, n_steps, sw)

    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    assert not np.allclose(ours.coefs_[0], W0_theirs[0])  # the weights did move
    _assert_same_weights(ours, theirs, rtol=1e-10)

    # The loss of the first epoch is J at the initial weights.
    if task == "regression-2-outputs":
        # skfnn's squared error sums over the 2 outputs, scikit-learn's averages them.
        sw_sum = N_SAMPLES if sw is None else sw.sum()
        theirs.coefs_ = W0_theirs
        penalty = _penalty(theirs, alpha, sw_sum)
        assert ours.loss_curve_[0] - penalty == pytest.approx(
            2 * (theirs.loss_curve_[0] - penalty), rel=1e-10)
    else:
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)
        assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-10)


@pytest.mark.parametrize("solver", ["sgd-nesterov-0.9", "adam"])
@pytest.mark.parametrize("task", ["regression", "multiclass"])
def test_shuffled_minibatch_epochs_match(task, solver):
    """Minibatches of 7 (the last one of 6), shuffled each epoch from the same seed."""
    ours, theirs = _pair(task, hidden_layer_sizes=(5,), activation="relu", alpha=0.001,
                         batch_size=7, shuffle=True, random_state=5, max_iter=3,
                         **SOLVERS[solver])
    y = TARGETS[task]
    _quietly(ours.fit, X, y, sample_weight=SAMPLE_WEIGHT)
    _quietly(theirs.fit, X, y, sample_weight=SAMPLE_WEIGHT)
    _assert_same_weights(ours, theirs, rtol=1e-10)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)


@pytest.mark.parametrize("solver, nesterov", [("sgd", True), ("sgd", False), ("adam", True)])
def test_blocked_optimizer_steps_match_sklearn_on_a_large_network(solver, nesterov):
    """θ longer than one optimizer block (BLOCK elements) is updated block by block."""
    from sklearn.neural_network import MLPRegressor

    from skfnn import FNNRegressor
    from skfnn._engine import BLOCK

    rng = np.random.RandomState(0)
    X, y = rng.randn(40, 250), rng.randn(40)
    params = dict(hidden_layer_sizes=(300,), solver=solver, nesterovs_momentum=nesterov,
                  learning_rate_init=0.01, batch_size=20, random_state=0)
    ours, theirs = FNNRegressor(**params), MLPRegressor(**params)
    for _ in range(3):
        ours.partial_fit(X, y)
        theirs.partial_fit(X, y)
    assert sum(W.size + b.size for W, b in zip(ours.coefs_,
                                               ours.intercepts_, strict=True)) > 2 * BLOCK
    for a, b in zip(ours.coefs_ + ours.intercepts_,
                    theirs.coefs_ + theirs.intercepts_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


# ----------------------------------------------------------------------------
# (d) one evaluation of (J, ∇J): the same bits, on every machine
# ----------------------------------------------------------------------------
class _Objectives:
    """Captures the objective each library hands to scipy's L-BFGS-B.

    Both skfnn and scikit-learn minimise ``fun(x, *args) -> (J, ∇J)`` through
    ``scipy.optimize.minimize``; replacing it by this recorder (which then runs the
    real one) gives each library's own objective, to evaluate at any θ.
    """

    def __init__(self, minimize):
        self.minimize, self.captured = minimize, []

    def __call__(self, fun, x0, args=(), **kwargs):
        self.captured.append(lambda x: fun(x, *args))
        return self.minimize(fun, x0, args=args, **kwargs)


N_EVAL = 300  # rows: enough probabilities that a log differing in one case in 300 shows


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
@pytest.mark.parametrize("task", [t for t in TASKS if t != "regression-2-outputs"])
@pytest.mark.parametrize("activation", SK_ACTIVATIONS)
def test_one_evaluation_of_J_and_its_gradient_is_scikit_learns_to_the_last_bit(
        activation, task, weighted, monkeypatch):
    """At the initial θ and at random θ spread enough to saturate the outputs.

    This is what must hold on any CPU and BLAS: the two libraries perform the same
    floating-point operations (the same products, the same log, the same summation
    order). (Multi-output squared error is another objective: docs/differences.md §1.)
    """
    import scipy.optimize

    X_, targets = _data(N_EVAL, seed=11)
    y, sw = targets[task], (np.linspace(0.2, 2.0, N_EVAL) if weighted else None)
    recorder = _Objectives(scipy.optimize.minimize)
    monkeypatch.setattr(scipy.optimize, "minimize", recorder)
    for est in _pair(task, hidden_layer_sizes=(7, 5), activation=activation, alpha=0.01,
                     solver="lbfgs", max_iter=1, random_state=0):
        _quietly(est.fit, X_, y, sample_weight=sw)
    ours, theirs = recorder.captured
    n = sum(W.size + b.size for W, b in zip(est.coefs_, est.intercepts_, strict=True))
    rng = np.random.RandomState(3)
    thetas = [np.concatenate([W.ravel() for W in est.coefs_] + list(est.intercepts_))]
    thetas += [rng.normal(0.0, scale, n) for scale in (0.3, 1.0, 2.0)]
    for theta in thetas:
        with threadpool_limits(1):  # as the whole runs below
            J_ours, g_ours = ours(theta.copy())
            J_ref, g_ref = theirs(theta.copy())
        assert J_ours == J_ref, (J_ours, J_ref)
        np.testing.assert_array_equal(g_ours, g_ref)


def _probabilities_near_0_and_1(n, k, seed):
    """Probabilities whose distances to 0 and to 1 spread over 1e-12 to 1 (log-uniform):
    where a vectorised log (numpy's AVX-512 one) and the C library's differ most."""
    rng = np.random.RandomState(seed)
    distance = 10.0 ** rng.uniform(-12, 0, (n, k))
    return np.where(rng.uniform(size=(n, k)) < 0.5, distance, 1 - distance) * 0.999


@pytest.mark.parametrize("loss", ["log_loss", "binary_log_loss", "poisson", "squared_error"])
def test_each_rows_loss_value_is_scikit_learns_to_the_last_bit(loss):
    """The data term ℓ of one row at a time (J of a single row, where no sum can
    absorb a last-bit difference), and of all rows with weights, against scikit-learn's
    loss functions on the same targets and outputs."""
    from sklearn.neural_network._base import LOSS_FUNCTIONS

    from skfnn.losses import get_loss

    n, k = 3000, 3
    A = _probabilities_near_0_and_1(n, k, seed=0)
    rng = np.random.RandomState(1)
    if loss == "log_loss":
        A = A / A.sum(axis=1, keepdims=True)
        Y = np.eye(k)[rng.randint(k, size=n)]
    elif loss == "binary_log_loss":
        Y = (rng.uniform(size=(n, k)) < 0.5).astype(float)
    else:
        A, Y = A * 5, rng.poisson(2.0, (n, 1)).astype(float)
        A = A[:, :1]
    ours, ref = get_loss(loss), LOSS_FUNCTIONS[loss]
    differing = [i for i in range(n) if ours(Y[i:i + 1], A[i:i + 1]) != ref(Y[i:i + 1], A[i:i + 1])]
    assert differing == [], f"{len(differing)} rows of {n}, first {differing[:5]}"
    sw = rng.uniform(0.1, 3.0, n)
    assert ours(Y, A, sw) == ref(Y, A, sw)
    assert ours(Y, A) == ref(Y, A)


# ----------------------------------------------------------------------------
# L-BFGS follows scikit-learn's iterations, bit for bit, in the same process
# ----------------------------------------------------------------------------
def _lbfgs_problems():
    from sklearn.datasets import make_classification, make_regression

    X, y = make_regression(n_samples=300, n_features=8, noise=5, random_state=0)
    Xc, yc = make_classification(n_samples=300, n_features=8, n_informative=5, n_classes=3,
                                 random_state=0)
    Xb, yb = make_classification(n_samples=300, n_features=8, random_state=1)
    weights = {"sample_weight": np.linspace(0.5, 2.0, 300)}
    return {
        "regression": (FNNRegressor, MLPRegressor, X, y / y.std(), {}),
        "regression-weighted": (FNNRegressor, MLPRegressor, X, y / y.std(), weights),
        "binary": (FNNClassifier, MLPClassifier, Xb, yb, {}),
        "multiclass": (FNNClassifier, MLPClassifier, Xc, yc, {}),
    }


class _Evaluations(_Objectives):
    """Records every (θ, J, ∇J) that scipy's L-BFGS-B asks for, as bytes."""

    def __call__(self, fun, x0, args=(), **kwargs):
        evaluations = []
        self.captured.append(evaluations)

        def recorded(x, *args):
            J, g = fun(x, *args)
            evaluations.append((x.tobytes(), float(J), np.asarray(g).tobytes()))
            return J, g
        return self.minimize(recorded, x0, args=args, **kwargs)


@pytest.mark.parametrize("problem", list(_lbfgs_problems()))
def test_lbfgs_is_bit_identical_to_scikit_learn_over_the_whole_run(problem, monkeypatch):
    """Every θ the line search tries, J and ∇J there, and the model: the same bits.

    This holds wherever one evaluation of (J, ∇J) is scikit-learn's to the last bit
    (the tests above): L-BFGS-B is deterministic, so the same values give the same
    next θ. Both run on one BLAS thread: scikit-learn's products on two threads have
    come out different in the last bit from one thread's (once in four runs with
    OpenBLAS's Haswell kernels), and skfnn runs a fit this small on one. 150 iterations
    reach far past the 20 to 50 after which a last-bit
    difference in J has sent the two runs apart (a log differing in one ulp did, after
    24 iterations of the multiclass problem). The runs of different machines (BLAS
    kernels, CPUs) are not compared: they are different runs (docs/differences.md).
    """
    import scipy.optimize

    ours_cls, ref_cls, X_, y_, fit_kw = _lbfgs_problems()[problem]
    params = dict(hidden_layer_sizes=(20,), solver="lbfgs", tol=1e-10, max_iter=150,
                  random_state=0)
    recorder = _Evaluations(scipy.optimize.minimize)
    monkeypatch.setattr(scipy.optimize, "minimize", recorder)
    with threadpool_limits(1):  # skfnn runs a fit this small on one thread anyway
        ours = _quietly(ours_cls(**params).fit, X_, y_, **fit_kw)
        ref = _quietly(ref_cls(**params).fit, X_, y_, **fit_kw)
    ours_path, ref_path = recorder.captured
    # A long run (these problems converge after 174 to over 1000 iterations).
    assert ours.n_iter_ == ref.n_iter_ >= 100
    first = next((k for k, (a, b) in enumerate(zip(ours_path,
                                                   ref_path, strict=True)) if a != b), None)
    assert first is None and len(ours_path) == len(ref_path), first
    assert ours.loss_ == ref.loss_
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_, strict=True):
        np.testing.assert_array_equal(a, b)

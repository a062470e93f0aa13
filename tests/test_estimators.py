"""Estimator behaviour: meta-estimators, persistence, coefs_ as the model, dtypes,
sparse input, warm starts, partial_fit, early stopping, pluggable parts, divergence.

Expected values come from independent computations: a from-scratch numpy forward
pass / gradient, scikit-learn's MLP run with the same settings, or the same
estimator run through another code path (dense vs sparse, n_jobs=1 vs 2, ...).
"""

import copy
import io
import pickle

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from helpers import classification_data, regression_data
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit, softmax
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skfnn import Activation, FNNClassifier, FNNRegressor, Loss

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SOLVERS = ["adam", "sgd", "lbfgs"]
STOCHASTIC = ["adam", "sgd"]


# ----------------------------------------------------------------------
# Module-level custom parts (picklable, as DESIGN.md requires)
# ----------------------------------------------------------------------
class ScaledCube(Activation):
    """σ(z) = s z³, σ'(z) = 3 s z²."""

    name = "scaled_cube"

    def __init__(self, scale=0.5):
        self.scale = scale

    def forward(self, z):
        return self.scale * z**3

    def derivative(self, z, a):
        return 3 * self.scale * z**2


class Quartic(Loss):
    """ℓ = ¼ Σ_k (a_k − y_k)⁴, ∂ℓ/∂a = (a − y)³."""

    name = "quartic"

    def per_sample(self, y, a):
        return 0.25 * ((a - y) ** 4).sum(axis=1)

    def gradient(self, y, a):
        return (a - y) ** 3


# ----------------------------------------------------------------------
# Data and a from-scratch reference implementation
# ----------------------------------------------------------------------
ACT = {
    "relu": lambda z: np.maximum(z, 0),
    "tanh": np.tanh,
    "logistic": expit,
    "identity": lambda z: z,
    "softmax": lambda z: softmax(z, axis=1),
}


def forward_by_hand(X, Ws, bs, hidden, out):
    """A^L computed layer by layer; ``hidden`` is one callable (or name) per hidden layer."""
    A = X
    for l, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        Z = A @ W + b
        f = out if l == len(Ws) - 1 else hidden[l]
        A = (ACT[f] if isinstance(f, str) else f)(Z)
    return A


def relu_mse_step_by_hand(X, y, Ws, bs, alpha, lr):
    """One full-batch gradient step on J = mean ½(a−y)² + α/(2n)Σ‖W‖², relu hidden."""
    n = X.shape[0]
    Z1 = X @ Ws[0] + bs[0]
    A1 = np.maximum(Z1, 0)
    out = A1 @ Ws[1] + bs[1]
    D2 = (out - y.reshape(-1, 1)) / n
    gW2 = A1.T @ D2 + alpha * Ws[1] / n
    gb2 = D2.sum(axis=0)
    D1 = (D2 @ Ws[1].T) * (Z1 > 0)
    gW1 = X.T @ D1 + alpha * Ws[0] / n
    gb1 = D1.sum(axis=0)
    return [Ws[0] - lr * gW1, Ws[1] - lr * gW2], [bs[0] - lr * gb1, bs[1] - lr * gb2]


def assert_same_params(a, b, rtol=1e-12, atol=1e-14):
    assert len(a.coefs_) == len(b.coefs_)
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True):
        assert_allclose(p, q, rtol=rtol, atol=atol)


# ----------------------------------------------------------------------
# Pipeline and GridSearchCV
# ----------------------------------------------------------------------
def test_pipeline_with_standard_scaler_equals_scaling_by_hand():
    X, y = regression_data()
    X = X * [1.0, 100.0, 0.01, 5.0] + [0.0, 50.0, -3.0, 1.0]
    X_train, X_test, y_train = X[:45], X[45:], y[:45]
    params = dict(hidden_layer_sizes=(6,), solver="lbfgs", max_iter=50, random_state=0)

    pipe = make_pipeline(StandardScaler(), FNNRegressor(**params)).fit(X_train, y_train)

    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    bare = FNNRegressor(**params).fit((X_train - mean) / std, y_train)
    expected = bare.predict((X_test - mean) / std)
    assert_allclose(pipe.predict(X_test), expected, rtol=1e-10, atol=1e-12)
    # And the bare estimator on unscaled data is a different model.
    raw = FNNRegressor(**params).fit(X_train, y_train)
    assert not np.allclose(raw.predict(X_test), expected)


def test_pipeline_classifier_predict_proba_equals_scaling_by_hand():
    X, y = classification_data(n_classes=3)
    X = X * 30 + 7
    params = dict(hidden_layer_sizes=(5,), solver="adam", max_iter=20, random_state=1,
                  learning_rate_init=0.01)
    pipe = make_pipeline(StandardScaler(), FNNClassifier(**params)).fit(X, y)
    scaler = StandardScaler().fit(X)
    bare = FNNClassifier(**params).fit(scaler.transform(X), y)
    assert_allclose(pipe.predict_proba(X), bare.predict_proba(scaler.transform(X)),
                    rtol=1e-12, atol=1e-14)
    assert_array_equal(pipe.predict(X), bare.predict(scaler.transform(X)))


def test_grid_search_parallel_equals_serial():
    X, y = classification_data(n=60, n_classes=2)
    grid = {"alpha": [1e-4, 1.0], "hidden_layer_sizes": [(2,), (6,)]}
    est = FNNClassifier(solver="adam", max_iter=15, learning_rate_init=0.02, random_state=0)
    serial = GridSearchCV(est, grid, cv=3, n_jobs=1).fit(X, y)
    parallel = GridSearchCV(est, grid, cv=3, n_jobs=2).fit(X, y)

    assert parallel.best_params_ == serial.best_params_
    assert parallel.cv_results_["params"] == serial.cv_results_["params"]
    for key in serial.cv_results_:
        if "time" in key or key == "params":
            continue
        assert_array_equal(parallel.cv_results_[key], serial.cv_results_[key], err_msg=key)
    # The search is not degenerate: the candidates do score differently.
    assert len(set(serial.cv_results_["mean_test_score"])) > 1
    # best_estimator_ is the same model as a fresh fit with best_params_.
    refit = clone(est).set_params(**serial.best_params_).fit(X, y)
    assert_array_equal(parallel.best_estimator_.predict_proba(X), refit.predict_proba(X))


# ----------------------------------------------------------------------
# Persistence and clone
# ----------------------------------------------------------------------
def _pickle_roundtrip(est):
    return pickle.loads(pickle.dumps(est))


def _joblib_roundtrip(est):
    buffer = io.BytesIO()
    joblib.dump(est, buffer)
    buffer.seek(0)
    return joblib.load(buffer)


ROUNDTRIPS = [_pickle_roundtrip, _joblib_roundtrip]


@pytest.mark.parametrize("roundtrip", ROUNDTRIPS, ids=["pickle", "joblib"])
@pytest.mark.parametrize("solver", SOLVERS)
def test_regressor_roundtrip_predictions_identical(solver, roundtrip):
    X, y = regression_data()
    est = FNNRegressor((5,), solver=solver, max_iter=15, random_state=0).fit(X, y)
    loaded = roundtrip(est)
    assert_array_equal(loaded.predict(X), est.predict(X))
    assert_same_params(loaded, est, rtol=0, atol=0)
    assert loaded.loss_curve_ == est.loss_curve_


@pytest.mark.parametrize("roundtrip", ROUNDTRIPS, ids=["pickle", "joblib"])
@pytest.mark.parametrize("solver", SOLVERS)
def test_classifier_roundtrip_predict_proba_identical(solver, roundtrip):
    X, y = classification_data(n_classes=3)
    est = FNNClassifier((5,), solver=solver, max_iter=15, random_state=0).fit(X, y)
    loaded = roundtrip(est)
    assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    assert_array_equal(loaded.predict(X), est.predict(X))
    assert_array_equal(loaded.classes_, est.classes_)


@pytest.mark.parametrize("roundtrip", ROUNDTRIPS, ids=["pickle", "joblib"])
@pytest.mark.parametrize("solver", STOCHASTIC)
def test_partial_fit_after_roundtrip_continues_exactly(solver, roundtrip):
    X, y = regression_data()
    est = FNNRegressor((5,), solver=solver, learning_rate_init=0.01, batch_size=16,
                       random_state=0)
    for _ in range(3):
        est.partial_fit(X, y)
    loaded = roundtrip(est)
    for _ in range(2):
        est.partial_fit(X, y)
        loaded.partial_fit(X, y)
    assert_same_params(loaded, est, rtol=0, atol=0)
    assert loaded.t_ == est.t_ == 5 * X.shape[0]
    assert loaded.loss_curve_ == est.loss_curve_

    # The optimizer state matters: one epoch from the same weights with a fresh
    # optimizer (a warm-started fit, which is what losing the state would give)
    # ends up elsewhere.
    restarted = roundtrip(loaded).set_params(warm_start=True, max_iter=1)
    restarted.fit(X, y)
    loaded.partial_fit(X, y)
    assert not np.allclose(restarted.coefs_[0], loaded.coefs_[0], rtol=1e-9, atol=0)


@pytest.mark.parametrize("roundtrip", ROUNDTRIPS, ids=["pickle", "joblib"])
@pytest.mark.parametrize("solver", STOCHASTIC)
def test_classifier_partial_fit_after_roundtrip_continues_exactly(solver, roundtrip):
    X, y = classification_data(n_classes=3)
    est = FNNClassifier((5,), solver=solver, learning_rate_init=0.01, batch_size=16,
                        random_state=0)
    est.partial_fit(X, y, classes=[0, 1, 2])
    loaded = roundtrip(est)
    est.partial_fit(X, y)
    loaded.partial_fit(X, y)
    assert_same_params(loaded, est, rtol=0, atol=0)
    assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))


def test_clone_unfitted_with_equal_params():
    est = FNNRegressor((7, 3), activation=("tanh", "relu"), alpha=0.3, solver="sgd",
                       random_state=4, max_iter=5)
    X, y = regression_data()
    est.fit(X, y)
    cloned = clone(est)
    assert not hasattr(cloned, "coefs_")
    assert not hasattr(cloned, "n_iter_")
    assert cloned.get_params() == est.get_params()


def test_fitted_clone_does_not_share_coefs():
    X, y = regression_data()
    est = FNNRegressor((5,), solver="lbfgs", max_iter=20, random_state=0).fit(X, y)
    other = clone(est).fit(X, y)
    assert_same_params(other, est, rtol=0, atol=0)  # same seed, same model
    for p, q in zip(est.coefs_ + est.intercepts_, other.coefs_ + other.intercepts_, strict=True):
        assert not np.shares_memory(p, q)
    before = est.predict(X)
    other.coefs_[0][...] = 0.0
    assert_array_equal(est.predict(X), before)
    deep = copy.deepcopy(est)
    deep.coefs_[1] *= 2
    assert_array_equal(est.predict(X), before)


# ----------------------------------------------------------------------
# coefs_ / intercepts_ are the model
# ----------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["regressor", "binary", "multiclass"])
def test_assigned_coefs_change_predict(kind):
    rng = np.random.RandomState(0)
    if kind == "regressor":
        X, y = regression_data()
        est = FNNRegressor((4,), solver="adam", max_iter=3, random_state=0).fit(X, y)
        out = "identity"
    else:
        X, y = classification_data(n_classes=2 if kind == "binary" else 3)
        est = FNNClassifier((4,), solver="adam", max_iter=3, random_state=0).fit(X, y)
        out = "logistic" if kind == "binary" else "softmax"
    W0 = rng.normal(size=est.coefs_[0].shape)
    b0 = rng.normal(size=est.intercepts_[0].shape)
    W1 = rng.normal(size=est.coefs_[1].shape)
    b1 = rng.normal(size=est.intercepts_[1].shape)
    est.coefs_[0] = W0
    est.intercepts_[0] = b0
    est.coefs_[1] = W1
    est.intercepts_[1] = b1
    expected = forward_by_hand(X, [W0, W1], [b0, b1], ["relu"], out)
    if kind == "regressor":
        assert_allclose(est.predict(X), expected.ravel(), rtol=1e-12)
    elif kind == "binary":
        proba = est.predict_proba(X)
        assert_allclose(proba[:, 1], expected.ravel(), rtol=1e-12)
        assert_allclose(proba[:, 0], 1 - expected.ravel(), rtol=1e-12, atol=1e-15)
        assert_array_equal(est.predict(X), (expected.ravel() > 0.5).astype(int))
    else:
        assert_allclose(est.predict_proba(X), expected, rtol=1e-12)
        assert_array_equal(est.predict(X), est.classes_[expected.argmax(axis=1)])


def test_in_place_modification_changes_predict():
    X, y = regression_data()
    # No momentum and one full batch: each partial_fit is one plain gradient step.
    est = FNNRegressor((4,), solver="sgd", momentum=0.0, learning_rate_init=0.01,
                       batch_size=X.shape[0], max_iter=3, random_state=0).fit(X, y)
    est.coefs_[0] *= -1.5
    est.intercepts_[1] += 2.0
    expected = forward_by_hand(X, est.coefs_, est.intercepts_, ["relu"], "identity")
    assert_allclose(est.predict(X), expected.ravel(), rtol=1e-12)
    W = [c.copy() for c in est.coefs_]
    b = [i.copy() for i in est.intercepts_]
    # ...and the next partial_fit starts from the modified weights.
    est.partial_fit(X, y)
    Ws, bs = relu_mse_step_by_hand(X, y, W, b, est.alpha, 0.01)
    for p, q in zip(est.coefs_ + est.intercepts_, Ws + bs, strict=True):
        assert_allclose(p, q, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("continue_with", ["partial_fit", "warm_start_fit"])
def test_training_starts_from_assigned_coefs(continue_with):
    X, y = regression_data()
    lr = 0.05
    est = FNNRegressor((4,), solver="sgd", momentum=0.0, learning_rate_init=lr,
                       batch_size=X.shape[0], max_iter=1, random_state=0, alpha=0.01)
    est.partial_fit(X, y)
    rng = np.random.RandomState(1)
    W = [rng.normal(size=c.shape) for c in est.coefs_]
    b = [rng.normal(size=i.shape) for i in est.intercepts_]
    est.coefs_ = [w.copy() for w in W]
    est.intercepts_ = [c.copy() for c in b]
    if continue_with == "partial_fit":
        est.partial_fit(X, y)
    else:
        est.set_params(warm_start=True).fit(X, y)
    Ws, bs = relu_mse_step_by_hand(X, y, W, b, 0.01, lr)
    for p, q in zip(est.coefs_ + est.intercepts_, Ws + bs, strict=True):
        assert_allclose(p, q, rtol=1e-10, atol=1e-13)
    # predict agrees with the weights training left behind.
    expected = forward_by_hand(X, est.coefs_, est.intercepts_, ["relu"], "identity")
    assert_allclose(est.predict(X), expected.ravel(), rtol=1e-12)


def _corrupt(est, how):
    if how == "coef_wrong_shape":
        est.coefs_[0] = np.ones((est.coefs_[0].shape[0], est.coefs_[0].shape[1] + 1))
    elif how == "intercept_wrong_shape":
        est.intercepts_[0] = np.ones(1)
    elif how == "coefs_too_few_layers":
        est.coefs_ = est.coefs_[:1]


CORRUPTIONS = ["coef_wrong_shape", "intercept_wrong_shape", "coefs_too_few_layers"]


@pytest.mark.parametrize("how", CORRUPTIONS)
def test_wrongly_shaped_coefs_partial_fit_raises(how):
    X, y = regression_data()
    est = FNNRegressor((5,), solver="adam", random_state=0).partial_fit(X, y)
    _corrupt(est, how)
    with pytest.raises(ValueError, match=r"coefs_ and intercepts_ .*shapes"):
        est.partial_fit(X, y)


@pytest.mark.parametrize("how", CORRUPTIONS)
def test_wrongly_shaped_coefs_warm_start_fit_raises(how):
    X, y = regression_data()
    est = FNNRegressor((5,), solver="adam", max_iter=2, warm_start=True,
                       random_state=0).fit(X, y)
    _corrupt(est, how)
    with pytest.raises(ValueError, match=r"coefs_ and intercepts_ .*shapes"):
        est.fit(X, y)


@pytest.mark.parametrize("how", CORRUPTIONS)
def test_wrongly_shaped_coefs_predict_raises(how):
    # coefs_ is the model that predict uses: a malformed one must be reported,
    # not broadcast or silently truncated into a different network.
    X, y = regression_data()
    est = FNNRegressor((5,), solver="adam", random_state=0).partial_fit(X, y)
    _corrupt(est, how)
    with pytest.raises(ValueError, match=r"coefs_|intercepts_"):
        est.predict(X)


# ----------------------------------------------------------------------
# dtypes and sparse input
# ----------------------------------------------------------------------
@pytest.mark.parametrize("solver", STOCHASTIC)
def test_float32_kept_end_to_end_and_matches_sklearn(solver):
    X, y = regression_data()
    X32 = X.astype(np.float32)
    params = dict(hidden_layer_sizes=(5,), solver=solver, max_iter=10,
                  learning_rate_init=0.01, random_state=0)
    est = FNNRegressor(**params).fit(X32, y)
    assert all(p.dtype == np.float32 for p in est.coefs_ + est.intercepts_)
    assert est.predict(X32).dtype == np.float32
    ref = MLPRegressor(**params).fit(X32, y)
    for p, q in zip(est.coefs_ + est.intercepts_, ref.coefs_ + ref.intercepts_, strict=True):
        assert_allclose(p, q, rtol=1e-5, atol=1e-6)
    est.partial_fit(X32, y)
    assert all(p.dtype == np.float32 for p in est.coefs_ + est.intercepts_)

    clf = FNNClassifier(**params).fit(X32, y > 0)
    assert all(p.dtype == np.float32 for p in clf.coefs_ + clf.intercepts_)
    assert clf.predict_proba(X32).dtype == np.float32


@pytest.mark.parametrize("solver", SOLVERS)
def test_float64_stays_float64(solver):
    X, y = regression_data()
    est = FNNRegressor((5,), solver=solver, max_iter=5, random_state=0).fit(X, y)
    assert all(p.dtype == np.float64 for p in est.coefs_ + est.intercepts_)
    assert est.predict(X).dtype == np.float64
    clf = FNNClassifier((5,), solver=solver, max_iter=5, random_state=0).fit(X, y > 0)
    assert clf.predict_proba(X).dtype == np.float64


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("solver", SOLVERS)
def test_sparse_equals_dense(solver, fmt):
    X, y = regression_data()
    X[np.abs(X) < 0.7] = 0.0
    Xs = sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X)
    params = dict(hidden_layer_sizes=(5,), solver=solver, max_iter=15, random_state=0)
    dense = FNNRegressor(**params).fit(X, y)
    sparse = FNNRegressor(**params).fit(Xs, y)
    assert_same_params(sparse, dense, rtol=1e-10, atol=1e-12)
    assert_allclose(sparse.predict(Xs), dense.predict(X), rtol=1e-10, atol=1e-12)

    Xc, yc = classification_data(n_classes=3)
    Xc[np.abs(Xc) < 0.7] = 0.0
    Xcs = sp.csr_matrix(Xc) if fmt == "csr" else sp.csc_matrix(Xc)
    dense = FNNClassifier(**params).fit(Xc, yc)
    sparse = FNNClassifier(**params).fit(Xcs, yc)
    assert_same_params(sparse, dense, rtol=1e-10, atol=1e-12)
    assert_allclose(sparse.predict_proba(Xcs), dense.predict_proba(Xc), rtol=1e-10,
                    atol=1e-12)


# ----------------------------------------------------------------------
# warm_start
# ----------------------------------------------------------------------
def test_warm_start_continues_and_matches_one_long_fit_and_sklearn():
    X, y = regression_data()
    # Plain gradient descent without momentum, shuffling or early stop: two
    # warm-started fits of 4 epochs are then exactly one fit of 8 epochs.
    kw = dict(hidden_layer_sizes=(5,), solver="sgd", momentum=0.0, shuffle=False, tol=0.0,
              n_iter_no_change=1000, learning_rate_init=0.05, random_state=0)
    warm = FNNRegressor(warm_start=True, max_iter=4, **kw).fit(X, y)
    first_curve = list(warm.loss_curve_)
    warm.fit(X, y)
    assert warm.loss_curve_[:4] == first_curve
    assert len(warm.loss_curve_) == 8
    assert warm.t_ == 8 * X.shape[0]
    assert warm.n_iter_ == 4

    cold = FNNRegressor(max_iter=8, **kw).fit(X, y)
    assert_same_params(warm, cold, rtol=1e-12, atol=1e-14)
    assert_allclose(warm.loss_curve_, cold.loss_curve_, rtol=1e-12)

    ref = MLPRegressor(warm_start=True, max_iter=4, **kw).fit(X, y).fit(X, y)
    assert_same_params(warm, ref, rtol=1e-12, atol=1e-14)
    assert_allclose(warm.loss_curve_, ref.loss_curve_, rtol=1e-12)
    assert warm.t_ == ref.t_


def test_warm_start_false_restarts():
    X, y = regression_data()
    est = FNNRegressor((5,), solver="adam", max_iter=4, random_state=0).fit(X, y)
    first = [c.copy() for c in est.coefs_]
    est.fit(X, y)
    assert len(est.loss_curve_) == 4 and est.t_ == 4 * X.shape[0]
    for p, q in zip(est.coefs_, first, strict=True):
        assert_array_equal(p, q)


def test_warm_start_classifier_matches_sklearn():
    X, y = classification_data(n_classes=3)
    kw = dict(hidden_layer_sizes=(4,), solver="adam", max_iter=3, learning_rate_init=0.01,
              random_state=0, warm_start=True)
    est = FNNClassifier(**kw).fit(X, y).fit(X, y)
    ref = MLPClassifier(**kw).fit(X, y).fit(X, y)
    assert_same_params(est, ref, rtol=1e-10, atol=1e-13)
    assert_allclose(est.loss_curve_, ref.loss_curve_, rtol=1e-10)
    assert est.t_ == ref.t_ == 6 * X.shape[0]


def test_warm_start_changed_hidden_layer_sizes_raises():
    X, y = regression_data()
    est = FNNRegressor((5,), max_iter=2, warm_start=True, random_state=0).fit(X, y)
    est.set_params(hidden_layer_sizes=(6,))
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        est.fit(X, y)


@pytest.mark.parametrize("change", [{"activation": "tanh"}, {"out_activation": "logistic"}])
def test_warm_start_changed_activation_raises(change):
    X, y = regression_data()
    est = FNNRegressor((5,), max_iter=2, warm_start=True, random_state=0).fit(X, y)
    before = [c.copy() for c in est.coefs_]
    est.set_params(**change)
    with pytest.raises(ValueError, match="activation"):
        est.fit(X, y)
    for p, q in zip(est.coefs_, before, strict=True):
        assert_array_equal(p, q)


# ----------------------------------------------------------------------
# partial_fit
# ----------------------------------------------------------------------
def test_classifier_partial_fit_needs_classes_on_first_call():
    X, y = classification_data(n_classes=3)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        FNNClassifier((4,), random_state=0).partial_fit(X, y)


@pytest.mark.parametrize("solver", STOCHASTIC)
def test_classifier_partial_fit_matches_sklearn(solver):
    X, y = classification_data(n=60, n_classes=3)
    kw = dict(hidden_layer_sizes=(4,), solver=solver, batch_size=8, random_state=0,
              learning_rate_init=0.01)
    est, ref = FNNClassifier(**kw), MLPClassifier(**kw)
    for i in range(3):
        chunk = slice(20 * i, 20 * (i + 1))
        extra = {"classes": [0, 1, 2]} if i == 0 else {}
        est.partial_fit(X[chunk], y[chunk], **extra)
        ref.partial_fit(X[chunk], y[chunk], **extra)
        assert est.n_iter_ == ref.n_iter_ == 1  # one epoch per call
        assert est.t_ == ref.t_ == 20 * (i + 1)
    assert_same_params(est, ref, rtol=1e-12, atol=1e-14)
    assert_allclose(est.loss_curve_, ref.loss_curve_, rtol=1e-12)
    assert_array_equal(est.classes_, ref.classes_)


def test_classifier_partial_fit_class_absent_from_first_batch():
    X, y = classification_data(n=60, n_classes=3)
    first = y != 2
    est = FNNClassifier((4,), random_state=0).partial_fit(X[first], y[first],
                                                          classes=[0, 1, 2])
    assert est.predict_proba(X).shape == (60, 3)
    assert_allclose(est.predict_proba(X).sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="classes"):
        est.partial_fit(X, np.where(y == 2, 5, y))


@pytest.mark.parametrize("solver", STOCHASTIC)
def test_regressor_partial_fit_matches_sklearn(solver):
    X, y = regression_data()
    kw = dict(hidden_layer_sizes=(4,), solver=solver, batch_size=16, random_state=0,
              learning_rate_init=0.01)
    est, ref = FNNRegressor(**kw), MLPRegressor(**kw)
    for _ in range(3):
        est.partial_fit(X, y)
        ref.partial_fit(X, y)
    assert est.n_iter_ == ref.n_iter_ == 1
    assert est.t_ == ref.t_ == 3 * X.shape[0]
    assert_same_params(est, ref, rtol=1e-12, atol=1e-14)
    assert_allclose(est.loss_curve_, ref.loss_curve_, rtol=1e-12)


@pytest.mark.parametrize("Estimator", [FNNRegressor, FNNClassifier])
def test_lbfgs_has_no_partial_fit(Estimator):
    est = Estimator(solver="lbfgs")
    assert not hasattr(est, "partial_fit")
    with pytest.raises(AttributeError, match="partial_fit") as excinfo:
        est.partial_fit  # noqa: B018 - the attribute access is what raises
    # available_if chains the reason (scikit-learn's own MLPRegressor gets this
    # wrong: its check is never called, so lbfgs "has" partial_fit there).
    assert "lbfgs is not stochastic" in str(excinfo.value.__cause__)
    assert hasattr(Estimator(solver="sgd"), "partial_fit")
    assert hasattr(Estimator(solver="adam"), "partial_fit")


@pytest.mark.parametrize("Estimator", [FNNRegressor, FNNClassifier])
def test_partial_fit_with_early_stopping_raises(Estimator):
    X, y = classification_data(n_classes=3)
    est = Estimator((4,), early_stopping=True, random_state=0)
    extra = {"classes": [0, 1, 2]} if Estimator is FNNClassifier else {}
    with pytest.raises(ValueError, match="early_stopping"):
        est.partial_fit(X, y, **extra)


# ----------------------------------------------------------------------
# early stopping
# ----------------------------------------------------------------------
def test_early_stopping_restores_best_weights():
    X, y = make_regression(n_samples=60, n_features=4, noise=20.0, random_state=0)
    y = y / 100
    kw = dict(hidden_layer_sizes=(30,), solver="adam", early_stopping=True, random_state=0,
              max_iter=60, learning_rate_init=0.01, n_iter_no_change=5,
              validation_fraction=0.3)
    est = FNNRegressor(**kw).fit(X, y)
    scores = np.asarray(est.validation_scores_)
    assert len(scores) == est.n_iter_ == len(est.loss_curve_)
    # The scenario overfits: the last epoch is clearly worse than the best.
    assert scores[-1] < scores.max() - 0.1
    assert est.best_validation_score_ == scores.max()

    # Rebuild the validation split independently: the seed first draws the
    # initial weights (W^1, b^1, W^2, b^2) and then the split.
    rs = np.random.RandomState(0)
    for W, b in zip(est.coefs_, est.intercepts_, strict=True):
        rs.uniform(size=W.shape)
        rs.uniform(size=b.shape)
    _, X_val, _, y_val = train_test_split(X, y, random_state=rs, test_size=0.3)
    assert r2_score(y_val, est.predict(X_val)) == pytest.approx(scores.max(), rel=1e-12)

    ref = MLPRegressor(**kw).fit(X, y)
    assert_allclose(est.validation_scores_, ref.validation_scores_, rtol=1e-10)
    assert_same_params(est, ref, rtol=1e-10, atol=1e-13)


def test_early_stopping_classifier_matches_sklearn():
    X, y = classification_data(n=90, n_classes=3)
    kw = dict(hidden_layer_sizes=(8,), solver="sgd", early_stopping=True, random_state=3,
              max_iter=40, learning_rate_init=0.05, n_iter_no_change=4,
              validation_fraction=0.2)
    est = FNNClassifier(**kw).fit(X, y)
    ref = MLPClassifier(**kw).fit(X, y)
    assert est.validation_scores_ == ref.validation_scores_
    assert est.best_validation_score_ == ref.best_validation_score_
    assert est.best_loss_ is None and ref.best_loss_ is None
    assert_same_params(est, ref, rtol=1e-10, atol=1e-13)


# ----------------------------------------------------------------------
# Activations and losses
# ----------------------------------------------------------------------
def test_per_layer_activations_forward_by_hand():
    X, y = regression_data()
    est = FNNRegressor((4, 3), activation=("tanh", "relu"), solver="lbfgs", max_iter=20,
                       random_state=0).fit(X, y)
    expected = forward_by_hand(X, est.coefs_, est.intercepts_, ["tanh", "relu"], "identity")
    assert_allclose(est.predict(X), expected.ravel(), rtol=1e-12)
    # The opposite order is a different network on the same weights.
    swapped = forward_by_hand(X, est.coefs_, est.intercepts_, ["relu", "tanh"], "identity")
    assert not np.allclose(swapped.ravel(), expected.ravel())


def test_per_layer_activations_list_classifier():
    X, y = classification_data(n_classes=3)
    est = FNNClassifier((4, 3), activation=["logistic", "tanh"], solver="adam", max_iter=5,
                        random_state=0).fit(X, y)
    expected = forward_by_hand(X, est.coefs_, est.intercepts_, ["logistic", "tanh"],
                               "softmax")
    assert_allclose(est.predict_proba(X), expected, rtol=1e-12)


@pytest.mark.parametrize("activation", [("tanh",), ("tanh", "relu", "relu")])
def test_activation_sequence_of_wrong_length_raises(activation):
    X, y = regression_data()
    with pytest.raises(ValueError, match=r"activation has \d entr(y|ies) but there are 2 hidden"):
        FNNRegressor((4, 3), activation=activation, max_iter=2).fit(X, y)


def test_custom_activation_object_trains_unmutated_and_pickles():
    X, y = regression_data()
    cube = ScaledCube(scale=0.5)
    est = FNNRegressor((4, 3), activation=(cube, "tanh"), solver="adam", max_iter=10,
                       learning_rate_init=0.01, random_state=0).fit(X, y)
    assert vars(cube) == {"scale": 0.5}
    assert est.get_params()["activation"][0] is cube
    W, b = est.coefs_, est.intercepts_
    expected = forward_by_hand(X, W, b, [cube.forward, np.tanh], "identity")
    assert_allclose(est.predict(X), expected.ravel(), rtol=1e-12)
    assert_allclose(expected.ravel(),
                    np.tanh(0.5 * (X @ W[0] + b[0]) ** 3 @ W[1] + b[1]) @ W[2].ravel() + b[2],
                    rtol=1e-12)
    assert est.loss_curve_[-1] < est.loss_curve_[0]

    loaded = pickle.loads(pickle.dumps(est))
    assert isinstance(loaded.activation[0], ScaledCube)
    assert_array_equal(loaded.predict(X), est.predict(X))
    assert clone(est).get_params()["activation"][0] == cube


def test_single_custom_activation_object_everywhere():
    X, y = regression_data()
    cube = ScaledCube(scale=0.2)
    est = FNNRegressor((3, 3), activation=cube, solver="lbfgs", max_iter=10,
                       random_state=0).fit(X, y)
    assert vars(cube) == {"scale": 0.2}
    expected = forward_by_hand(X, est.coefs_, est.intercepts_, [cube.forward] * 2, "identity")
    assert_allclose(est.predict(X), expected.ravel(), rtol=1e-12)


def _quartic_objective(est, X, y):
    a = forward_by_hand(X, est.coefs_, est.intercepts_, ["relu"], "identity")
    data = np.mean(0.25 * (a.ravel() - y) ** 4)
    return data + 0.5 * est.alpha * sum((W**2).sum() for W in est.coefs_) / X.shape[0]


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_custom_loss_object_trains(solver):
    X, y = regression_data()
    est = FNNRegressor((5,), loss=Quartic(), solver=solver, max_iter=10,
                       learning_rate_init=0.01, random_state=0).fit(X, y)
    curve = np.asarray(est.loss_curve_)
    assert len(curve) >= 5
    assert np.all(np.diff(curve[:5]) < 0)
    assert curve[-1] < 0.5 * curve[0]
    if solver == "lbfgs":
        # loss_ is the objective J of the custom loss at the final weights.
        assert est.loss_ == pytest.approx(_quartic_objective(est, X, y), rel=1e-10)
    assert isinstance(est.loss, Quartic)
    assert_array_equal(pickle.loads(pickle.dumps(est)).predict(X), est.predict(X))


def test_regressor_logistic_output_predicts_in_unit_interval_and_gradient_is_right():
    X, y = regression_data()
    target = expit(y)  # in (0, 1)
    est = FNNRegressor((5,), out_activation="logistic", solver="lbfgs", max_iter=100,
                       random_state=0).fit(X, target)
    pred = est.predict(X)
    assert np.all((pred > 0) & (pred < 1))
    assert est.out_activation_ == "logistic"
    assert r2_score(target, pred) > 0.9
    expected = forward_by_hand(X, est.coefs_, est.intercepts_, ["relu"], "logistic")
    assert_allclose(pred, expected.ravel(), rtol=1e-12)

    # One plain full-batch gradient step equals θ − η ∇J with ∇J from finite
    # differences of J = mean ½(σ(z) − y)² + α/(2n)Σ‖W‖².
    lr, alpha = 0.5, 0.1
    sgd = FNNRegressor((3,), out_activation="logistic", solver="sgd", momentum=0.0,
                       learning_rate_init=lr, alpha=alpha, batch_size=X.shape[0],
                       shuffle=False, random_state=0)
    sgd.partial_fit(X, target)
    W = [c.copy() for c in sgd.coefs_]
    b = [i.copy() for i in sgd.intercepts_]
    sgd.partial_fit(X, target)

    def J(params):
        Ws, bs = params[:2], params[2:]
        a = forward_by_hand(X, Ws, bs, ["relu"], "logistic").ravel()
        return np.mean(0.5 * (a - target) ** 2) + 0.5 * alpha * sum(
            (w**2).sum() for w in Ws) / X.shape[0]

    params = W + b
    for k, (p, new) in enumerate(zip(params, sgd.coefs_ + sgd.intercepts_, strict=True)):
        grad = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            plus = [q.copy() for q in params]
            minus = [q.copy() for q in params]
            plus[k][idx] += 1e-6
            minus[k][idx] -= 1e-6
            grad[idx] = (J(plus) - J(minus)) / 2e-6
        assert np.abs(grad).max() > 1e-4  # the check is not vacuous
        assert_allclose(new, p - lr * grad, rtol=1e-6, atol=1e-9)


def test_classifier_softmax_output_on_binary_target_raises():
    X, y = classification_data(n_classes=2)
    with pytest.raises(ValueError, match="softmax.*multiclass"):
        FNNClassifier((4,), out_activation="softmax", max_iter=2).fit(X, y)


# ----------------------------------------------------------------------
# Divergence
# ----------------------------------------------------------------------
def test_divergence_raises_non_finite():
    X, y = make_regression(n_samples=50, n_features=4, noise=1.0, random_state=0)
    est = FNNRegressor((5,), solver="sgd", learning_rate_init=1e6, max_iter=20,
                       random_state=0)
    with pytest.raises(ValueError, match="non-finite"), np.errstate(all="ignore"):
        est.fit(X * 1000, y)


@pytest.mark.parametrize("max_iter", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("hidden", [(5,), (5, 5)])
@pytest.mark.parametrize("seed", [0, 2])
def test_divergence_never_returns_a_model_predicting_non_finite(max_iter, hidden, seed):
    # Either fit reports the divergence, or the model it returns predicts finite
    # values (no NaN / ±inf) on its own training data.
    X, y = make_regression(n_samples=50, n_features=4, noise=1.0, random_state=0)
    X = X * 1000
    est = FNNRegressor(hidden, solver="sgd", learning_rate_init=1e6, max_iter=max_iter,
                       random_state=seed)
    try:
        with np.errstate(all="ignore"):
            est.fit(X, y)
    except ValueError as exc:
        assert "non-finite" in str(exc)
        return
    with np.errstate(all="ignore"):
        pred = est.predict(X)
    assert np.isfinite(est.loss_)
    assert np.isfinite(pred).all(), (
        f"fit returned without error but predicts {pred[~np.isfinite(pred)][:3]} "
        f"(loss_curve_={est.loss_curve_})"
    )


def test_divergence_with_partial_fit_never_leaves_nan_predictions():
    X, y = make_regression(n_samples=50, n_features=4, noise=1.0, random_state=0)
    X = X * 1000
    est = FNNRegressor((5, 5), solver="sgd", learning_rate_init=1e6, random_state=2)
    for _ in range(5):
        try:
            with np.errstate(all="ignore"):
                est.partial_fit(X, y)
        except ValueError as exc:
            assert "non-finite" in str(exc)
            return
        with np.errstate(all="ignore"):
            assert np.isfinite(est.predict(X)).all()


def test_lbfgs_poisson_overflow_never_returns_a_nan_loss():
    X, y = make_regression(n_samples=50, n_features=4, noise=1.0, random_state=0)
    est = FNNRegressor((5,), solver="lbfgs", loss="poisson", max_iter=20, random_state=0)
    try:
        with np.errstate(all="ignore"):
            est.fit(X * 1000, np.abs(y) * 1000)
    except ValueError as exc:
        assert "non-finite" in str(exc)
        return
    assert np.isfinite(est.loss_)
    with np.errstate(all="ignore"):
        assert np.isfinite(est.predict(X * 1000)).all()


# ----------------------------------------------------------------------
# Poisson
# ----------------------------------------------------------------------
def test_poisson_negative_target_raises():
    X, y = regression_data()
    with pytest.raises(ValueError, match="negative"):
        FNNRegressor((4,), loss="poisson", max_iter=2).fit(X, y)


def test_poisson_trains_and_predicts_positive_counts():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 3))
    rate = np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1])
    y = rng.poisson(rate).astype(float)
    est = FNNRegressor((5,), loss="poisson", solver="lbfgs", max_iter=50,
                       random_state=0).fit(X, y)
    pred = est.predict(X)
    assert est.out_activation_ == "exp"
    assert np.all(pred > 0)
    assert_allclose(pred, forward_by_hand(X, est.coefs_, est.intercepts_, ["relu"],
                                          np.exp).ravel(), rtol=1e-12)
    # Its loss_ is the half Poisson deviance (+ penalty) and beats a constant mean.
    dev = np.mean(pred - y + np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / pred), 0))
    penalty = 0.5 * est.alpha * sum((W**2).sum() for W in est.coefs_) / len(y)
    assert est.loss_ == pytest.approx(dev + penalty, rel=1e-8)
    m = y.mean()
    dev_const = np.mean(m - y + np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / m), 0))
    assert dev < dev_const
    # Matches scikit-learn's poisson MLPRegressor on the same settings.
    ref = MLPRegressor(hidden_layer_sizes=(5,), loss="poisson", solver="lbfgs", max_iter=50,
                       random_state=0).fit(X, y)
    assert_allclose(pred, ref.predict(X), rtol=1e-6)


def test_keyboard_interrupt_keeps_the_partly_trained_model(monkeypatch):
    """Ctrl-C during stochastic training warns and keeps the model, as scikit-learn."""
    from skfnn import optimizers

    X, y = make_regression(n_samples=60, n_features=4, random_state=0)
    calls = []
    original = optimizers.Adam.step

    def interrupted_step(self, theta, grad, scratch):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        original(self, theta, grad, scratch)

    monkeypatch.setattr(optimizers.Adam, "step", interrupted_step)
    est = FNNRegressor((5,), batch_size=10, max_iter=50, random_state=0)
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        est.fit(X, y)
    assert len(calls) == 5 and est.n_iter_ == 0  # stopped inside the first epoch

    # scikit-learn interrupted at the same step keeps the same four steps' weights.
    from sklearn.neural_network import MLPRegressor
    from sklearn.neural_network import _stochastic_optimizers as sk_optimizers

    sk_calls = []
    sk_original = sk_optimizers.AdamOptimizer.update_params

    def sk_interrupted(self, params, grads):
        sk_calls.append(1)
        if len(sk_calls) == 5:
            raise KeyboardInterrupt
        sk_original(self, params, grads)

    monkeypatch.setattr(sk_optimizers.AdamOptimizer, "update_params", sk_interrupted)
    ref = MLPRegressor(hidden_layer_sizes=(5,), batch_size=10, max_iter=50, random_state=0)
    with pytest.warns(UserWarning, match="Training interrupted by user"):
        ref.fit(X, y)
    for ours, theirs in zip(est.coefs_ + est.intercepts_,
                            ref.coefs_ + ref.intercepts_, strict=True):
        assert_allclose(ours, theirs, rtol=1e-12)


def test_pickle_carries_the_weights_once_and_reloads_them_as_the_model():
    X, y = make_regression(n_samples=80, n_features=5, random_state=0)
    est = FNNRegressor((7,), max_iter=3, random_state=0).fit(X, y)
    state = est.__getstate__()
    assert "_theta" not in state and "_theta" in est.__dict__  # the live object keeps it
    loaded = pickle.loads(pickle.dumps(est))
    # Reloaded coefs_ are again the model's views, so training updates them in place.
    assert all(W.base is loaded._theta for W in loaded.coefs_ + loaded.intercepts_)
    assert_array_equal(loaded.predict(X), est.predict(X))
    # A re-shaped coefs_ pickled as it is still gets the architecture error on use.
    broken = copy.deepcopy(est)
    broken.coefs_[0] = broken.coefs_[0][:, :3]
    with pytest.raises(ValueError, match="no longer match the fitted architecture"):
        pickle.loads(pickle.dumps(broken)).predict(X)


def _blas_threads_during_scoring(estimator, X, y):
    """A scorer that reports how many BLAS threads the worker would use."""
    from threadpoolctl import threadpool_info

    return max(pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas")


def test_grid_search_workers_do_not_oversubscribe_blas_threads():
    """GridSearchCV(n_jobs=2): each worker's BLAS pools hold cores // n_jobs threads."""
    import os

    from sklearn.model_selection import GridSearchCV

    X, y = make_classification(n_samples=60, n_features=4, random_state=0)
    search = GridSearchCV(FNNClassifier((4,), max_iter=5, random_state=0),
                          {"alpha": [1e-4, 1e-2]}, cv=2, n_jobs=2,
                          scoring=_blas_threads_during_scoring).fit(X, y)
    per_worker = max(1, (os.cpu_count() or 1) // 2)
    assert search.cv_results_["mean_test_score"].max() <= per_worker


@pytest.mark.parametrize("Estimator", [FNNRegressor, FNNClassifier])
def test_pandas_feature_names_are_recorded_and_checked(Estimator):
    import pandas as pd  # a test dependency (the "test" extra)
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    X, y = make_classification(n_samples=60, n_features=4, random_state=0)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    params = dict(hidden_layer_sizes=(5,), max_iter=5, random_state=0)
    ours = Estimator(**params).fit(frame, y)
    theirs = (MLPRegressor if Estimator is FNNRegressor else MLPClassifier)(**params).fit(frame, y)
    assert_array_equal(ours.feature_names_in_, ["a", "b", "c", "d"])
    assert_array_equal(ours.feature_names_in_, theirs.feature_names_in_)
    assert_array_equal(ours.predict(frame), theirs.predict(frame))
    with pytest.raises(ValueError, match="feature names should match"):
        ours.predict(frame[["b", "a", "c", "d"]])


LABEL_KINDS = {
    "binary ints": np.array([3, 7, 7, 3, 7, 3]),
    "binary strings": np.array(["no", "yes", "yes", "no", "no", "yes"]),
    "binary bools": np.array([True, False, True, True, False, False]),
    "multiclass negative ints": np.array([-1, 0, 2, 2, -1, 0]),
    "multiclass floats": np.array([0.0, 1.0, 2.0, 0.0, 2.0, 1.0]),
    "multiclass strings": np.array(["ant", "cat", "bee", "cat", "ant", "bee"]),
    "multiclass objects": np.array(["ant", "cat", "bee", "cat", "ant", "bee"], dtype=object),
}


@pytest.mark.parametrize("kind", LABEL_KINDS)
def test_targets_are_encoded_as_label_binarizer_encodes_them(kind):
    """The training targets Y are LabelBinarizer's 0/1 matrix, for fit and partial_fit."""
    from sklearn.preprocessing import LabelBinarizer

    y = LABEL_KINDS[kind]
    X = np.arange(2 * len(y), dtype=float).reshape(len(y), 2)
    clf = FNNClassifier((3,), max_iter=1, random_state=0)
    _, Y, _ = clf._validate_input(X, y, incremental=False, reset=True)
    assert Y.dtype == bool
    assert_array_equal(Y, LabelBinarizer().fit(y).transform(y))
    # partial_fit with more classes than this chunk has: one column per declared class.
    classes = np.unique(y)
    chunk = y[y == classes[0]]
    clf = FNNClassifier((3,), max_iter=1, random_state=0)
    _, Y, _ = clf._validate_input(X[: len(chunk)], chunk, incremental=True, reset=True,
                                  classes=classes)
    assert_array_equal(Y, LabelBinarizer().fit(classes).transform(chunk))

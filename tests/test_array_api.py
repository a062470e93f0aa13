"""Training and prediction on the arrays of other libraries (scikit-learn's array_api_dispatch).

With ``sklearn.set_config(array_api_dispatch=True)`` the estimators fit and
predict in the namespace and on the device of X. Here: PyTorch on the CPU and
array-api-strict (numpy underneath, with scikit-learn's second "device"). The
yardstick is the numpy fit itself: the same seed must give the same model,
epoch after epoch, to within the rounding of a different summation order.

Where the tests run: they need PyTorch, array-api-strict, SCIPY_ARRAY_API=1 (which
scikit-learn requires before it dispatches) and scikit-learn >= 1.9. Without them the
module is skipped, with one exception: an environment that declares itself an
array-API test environment by setting SCIPY_ARRAY_API, with a scikit-learn that
supports it, fails at collection instead. .ci/run's first environment sets it
around README's test command (tests/test_packaging.py checks that it does), so
that CI can never pass with these tests (and scikit-learn's array-API checks of
tests/test_sklearn_checks.py, which skip themselves likewise) silently skipped.
The minimum-versions environment (scikit-learn 1.7) skips them.
"""

import os
import pickle
from importlib.util import find_spec

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_classification, make_regression

from skfnn import FNNClassifier, FNNRegressor, array_namespace
from skfnn._sklearn_compat import HAS_ARRAY_API
from skfnn.activations import Activation

NEEDED = {
    "PyTorch (pip install -r .ci/array-api.txt)": find_spec("torch") is not None,
    "array-api-strict (the test extra)": find_spec("array_api_strict") is not None,
    "SCIPY_ARRAY_API=1 in the environment": os.environ.get("SCIPY_ARRAY_API") == "1",
    "scikit-learn >= 1.9": HAS_ARRAY_API,
}
MISSING = [what for what, present in NEEDED.items() if not present]
REQUIRED = HAS_ARRAY_API and bool(os.environ.get("SCIPY_ARRAY_API"))
if REQUIRED and MISSING:
    raise RuntimeError(
        "This environment declares itself an array-API test environment (SCIPY_ARRAY_API "
        f"is set) but lacks: {', '.join(MISSING)}. The array API tests "
        "and scikit-learn's array-API checks would be skipped: install or set what is missing.")
if MISSING:
    pytest.skip(f"the array API tests need {', '.join(MISSING)}", allow_module_level=True)

import array_api_strict  # noqa: E402
import torch  # noqa: E402
from sklearn.utils._array_api import move_estimator_to  # noqa: E402

SOLVERS = ("sgd", "adam", "lbfgs")


@pytest.fixture(autouse=True)
def dispatch():
    with sklearn.config_context(array_api_dispatch=True):
        yield


def on_torch(*arrays, dtype=None):
    converted = tuple(None if a is None else torch.asarray(a, dtype=dtype) for a in arrays)
    return converted[0] if len(converted) == 1 else converted


def strict(*arrays, device="device1"):
    where = array_api_strict.Device(device)
    converted = tuple(array_api_strict.asarray(a, device=where) for a in arrays)
    return converted[0] if len(converted) == 1 else converted


def host(a):
    if isinstance(a, torch.Tensor):
        return a.cpu().numpy()
    if isinstance(a, np.ndarray):
        return a
    return np.asarray(array_api_strict.asarray(a, device=array_api_strict.Device("CPU_DEVICE")))


def relative_gap(got, expected):
    """max |got − expected| / max |expected| over a list of arrays (or one array)."""
    pairs = zip(got, expected, strict=True) if isinstance(expected, list) else [(got, expected)]
    return max(np.max(np.abs(host(g) - e)) / max(np.max(np.abs(e)), 1e-300)
               for g, e in pairs)


def classification(n_classes=3, n=240, dtype=np.float64, seed=0):
    X, y = make_classification(n_samples=n, n_features=8, n_informative=5,
                               n_classes=n_classes, random_state=seed)
    return X.astype(dtype), y


def regression(n_targets=2, n=240, dtype=np.float64):
    X, y = make_regression(n_samples=n, n_features=8, n_targets=n_targets, noise=1.0,
                           random_state=0)
    return X.astype(dtype), (y / y.std()).astype(dtype)


def params(solver, **extra):
    """Every epoch of 40 runs (tol=0); L-BFGS: 40 iterations (see run_to_convergence)."""
    return {**dict(hidden_layer_sizes=(16, 12), solver=solver, max_iter=40, random_state=0,
                   tol=0.0, n_iter_no_change=10**6, learning_rate_init=0.01), **extra}


#: How far the torch fit may end from the numpy fit over a whole run: the largest
#: weight difference relative to the largest weight, and the largest probability
#: difference. sgd and adam add one rounding per step: 1e-10. L-BFGS's 69 iterations
#: amplify the roundings of another summation order (torch's products against
#: OpenBLAS's) through its line search: measured 1.0e-11 to 7.7e-11 in the weights and
#: 1.7e-11 to 1.3e-10 in the probabilities (OpenBLAS's Sandybridge, Haswell and
#: SkylakeX kernels, 1 and 2 threads), so 1e-9, as docs/array_api.md states.
WHOLE_RUN_GAP = {"sgd": 1e-10, "adam": 1e-10, "lbfgs": 1e-9}


def run_to_convergence(solver):
    """A whole run: 40 epochs of sgd or adam; L-BFGS until it converges.

    L-BFGS on a non-convex objective amplifies a difference of one rounding
    exponentially (after some 60 iterations it leads elsewhere, as a one-ulp change
    of one element of X does in numpy alone); to a stable minimum it does not, but
    its line search still amplifies it: see WHOLE_RUN_GAP.
    """
    if solver != "lbfgs":
        return params(solver)
    return params(solver, hidden_layer_sizes=(4,), activation="tanh", alpha=10.0,
                  tol=1e-5, max_iter=1000)


# ----------------------------------------------------------------------------
# The environment gate
# ----------------------------------------------------------------------------
def test_the_gate_names_every_requirement_and_is_met_here():
    assert set(NEEDED) == {"PyTorch (pip install -r .ci/array-api.txt)",
                           "array-api-strict (the test extra)",
                           "SCIPY_ARRAY_API=1 in the environment", "scikit-learn >= 1.9"}
    assert MISSING == []


# ----------------------------------------------------------------------------
# Agreement with the numpy fit
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("solver", SOLVERS)
def test_torch_float64_fit_is_the_numpy_fit_over_a_whole_run(solver, record_property):
    X, y = classification()
    ref = FNNClassifier(**run_to_convergence(solver)).fit(X, y)
    est = FNNClassifier(**run_to_convergence(solver)).fit(*on_torch(X, y))
    assert isinstance(est.coefs_[0], torch.Tensor) and est.coefs_[0].dtype == torch.float64
    gap = relative_gap(est.coefs_ + est.intercepts_, ref.coefs_ + ref.intercepts_)
    record_property("relative_gap", gap)
    assert gap < WHOLE_RUN_GAP[solver]
    assert est.n_iter_ == ref.n_iter_ < 1000
    assert_allclose(est.loss_curve_, ref.loss_curve_, rtol=1e-10)
    # Prediction of one model in both namespaces: only the summation order differs.
    proba = est.predict_proba(on_torch(X))
    numpy_twin = move_estimator_to(est, np, "cpu")
    assert_allclose(host(proba), numpy_twin.predict_proba(X), rtol=0, atol=1e-12)
    assert_allclose(host(est.predict_log_proba(on_torch(X))), numpy_twin.predict_log_proba(X),
                    rtol=1e-12, atol=1e-12)
    assert_array_equal(host(est.predict(on_torch(X))), numpy_twin.predict(X))
    # ... and of the two fits.
    assert_allclose(host(proba), ref.predict_proba(X), rtol=0, atol=WHOLE_RUN_GAP[solver])


def test_lbfgs_on_a_non_convex_objective_follows_numpy_for_its_first_40_iterations():
    X, y = classification()
    ref = FNNClassifier(**params("lbfgs")).fit(X, y)
    est = FNNClassifier(**params("lbfgs")).fit(*on_torch(X, y))
    assert est.n_iter_ == ref.n_iter_ == 40
    assert relative_gap(est.coefs_ + est.intercepts_, ref.coefs_ + ref.intercepts_) < 1e-10


@pytest.mark.parametrize("solver", SOLVERS)
def test_torch_float64_regressor_fit_is_the_numpy_fit(solver):
    X, y = regression()
    kwargs = {**run_to_convergence(solver), "activation": "tanh"}
    ref = FNNRegressor(**kwargs).fit(X, y)
    est = FNNRegressor(**kwargs).fit(*on_torch(X, y))
    assert relative_gap(est.coefs_ + est.intercepts_, ref.coefs_ + ref.intercepts_) < 1e-10
    pred = est.predict(on_torch(X))
    assert isinstance(pred, torch.Tensor) and pred.shape == (X.shape[0], 2)
    assert_allclose(host(pred), move_estimator_to(est, np, "cpu").predict(X), rtol=0,
                    atol=1e-12 * np.abs(y).max())


@pytest.mark.parametrize("solver", SOLVERS)
def test_float32_on_torch_agrees_with_numpy_float32(solver):
    X, y = classification(dtype=np.float32)
    ref = FNNClassifier(**params(solver, max_iter=15)).fit(X, y)
    est = FNNClassifier(**params(solver, max_iter=15)).fit(*on_torch(X, y))
    assert est.coefs_[0].dtype == torch.float32
    assert relative_gap(est.coefs_ + est.intercepts_, ref.coefs_ + ref.intercepts_) < 1e-5
    proba = est.predict_proba(on_torch(X))
    assert proba.dtype == torch.float32
    assert_allclose(host(proba), ref.predict_proba(X), rtol=0, atol=1e-5)


@pytest.mark.parametrize("solver", SOLVERS)
def test_array_api_strict_on_its_second_device_trains_the_numpy_model(solver):
    X, y = regression(n_targets=1)
    ref = FNNRegressor(**params(solver)).fit(X, y)
    est = FNNRegressor(**params(solver)).fit(*strict(X, y))
    assert est.coefs_[0].device == array_api_strict.Device("device1")
    assert relative_gap(est.coefs_ + est.intercepts_, ref.coefs_ + ref.intercepts_) < 1e-10
    assert est.predict(strict(X)).device == array_api_strict.Device("device1")


def test_array_api_strict_with_sample_weights_and_early_stopping_trains_the_numpy_model():
    # array-api-strict's arrays have only the standard's functions (no .sum() method).
    X, y = regression(n_targets=1)
    w = np.linspace(0.5, 2.0, X.shape[0])
    kwargs = params("adam", max_iter=8, early_stopping=True, alpha=0.01)
    ref = FNNRegressor(**kwargs).fit(X, y, sample_weight=w)
    est = FNNRegressor(**kwargs).fit(*strict(X, y), sample_weight=strict(w))
    assert relative_gap(est.coefs_ + est.intercepts_, ref.coefs_ + ref.intercepts_) < 1e-10
    assert_allclose(est.validation_loss_curve_, ref.validation_loss_curve_, rtol=1e-10)


@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu", "leaky_relu",
                                        "elu", "softplus", "gelu", "silu"])
def test_every_builtin_activation_trains_on_torch_as_on_numpy(activation):
    X, y = classification(n_classes=2)
    kwargs = params("adam", activation=activation, max_iter=10)
    ref = FNNClassifier(**kwargs).fit(X, y)
    est = FNNClassifier(**kwargs).fit(*on_torch(X, y))
    assert relative_gap(est.coefs_, ref.coefs_) < 1e-10


@pytest.mark.parametrize("loss", ["squared_error", "absolute_error", "huber", "poisson",
                                  "gaussian_nll", "quantile", "gamma", "tweedie"])
def test_every_regression_loss_trains_on_torch_as_on_numpy(loss):
    X, y = regression(n_targets=1)
    y = np.exp(y / 2) if loss in ("poisson", "gamma", "tweedie") else y
    extra = {"quantile": [0.1, 0.5, 0.9]} if loss == "quantile" else {}
    kwargs = params("adam", loss=loss, max_iter=10, **extra)
    ref = FNNRegressor(**kwargs).fit(X, y)
    est = FNNRegressor(**kwargs).fit(*on_torch(X, y))
    assert relative_gap(est.coefs_, ref.coefs_) < 1e-10
    assert_allclose(est.loss_curve_, ref.loss_curve_, rtol=1e-10)


@pytest.mark.parametrize("loss", ["gaussian_nll", "quantile", "gamma", "tweedie"])
def test_the_output_heads_train_and_predict_on_array_api_strict(loss):
    # Only the standard's functions: the heads' blocks, softplus, pow and the τ row.
    X, y = regression(n_targets=2)
    y = np.exp(y / 2) if loss in ("gamma", "tweedie") else y
    extra = {"quantile": [0.1, 0.9]} if loss == "quantile" else {}
    kwargs = params("adam", loss=loss, max_iter=5, **extra)
    ref = FNNRegressor(**kwargs).fit(X, y)
    est = FNNRegressor(**kwargs).fit(*strict(X, y))
    assert relative_gap(est.coefs_ + est.intercepts_, ref.coefs_ + ref.intercepts_) < 1e-10
    if loss == "gaussian_nll":
        mean, std = est.predict(strict(X), return_std=True)
        ref_mean, ref_std = ref.predict(X, return_std=True)
        assert relative_gap([mean, std], [ref_mean, ref_std]) < 1e-10
    else:
        assert relative_gap(est.predict(strict(X)), ref.predict(X)) < 1e-10
    assert est.score(*strict(X, y)) == pytest.approx(ref.score(X, y), rel=1e-10)


@pytest.mark.parametrize("target", ["binary", "multilabel", "one-vs-rest"])
def test_the_other_classification_targets_on_torch(target):
    X, y = classification(n_classes=3 if target == "one-vs-rest" else 2)
    extra = {}
    if target == "multilabel":
        y = np.stack([y, 1 - y, (X[:, 0] > 0).astype(int)], axis=1)
    if target == "one-vs-rest":
        extra = dict(out_activation="logistic")
    ref = FNNClassifier(**params("adam", max_iter=10, **extra)).fit(X, y)
    est = FNNClassifier(**params("adam", max_iter=10, **extra)).fit(*on_torch(X, y))
    assert relative_gap(est.coefs_, ref.coefs_) < 1e-10
    Xt = on_torch(X)
    assert_array_equal(host(est.predict(Xt)), ref.predict(X))
    assert_allclose(host(est.predict_proba(Xt)), ref.predict_proba(X), atol=1e-10)
    assert_allclose(host(est.predict_log_proba(Xt)), ref.predict_log_proba(X), atol=1e-9)


def test_dropout_masks_come_from_the_numpy_seed():
    X, y = classification()
    kwargs = params("adam", max_iter=10, dropout=0.3)
    ref = FNNClassifier(**kwargs).fit(X, y)
    est = FNNClassifier(**kwargs).fit(*on_torch(X, y))
    assert relative_gap(est.coefs_, ref.coefs_) < 1e-10


@pytest.mark.parametrize("init", ["he_normal", "orthogonal"])
def test_other_initialisations_draw_the_numpy_network(init):
    X, y = classification()
    est = FNNClassifier(**params("adam", max_iter=1, init=init))
    ref = FNNClassifier(**params("adam", max_iter=1, init=init)).fit(X, y)
    est.fit(*on_torch(X, y))
    assert relative_gap(est.coefs_, ref.coefs_) < 1e-10


def test_early_stopping_splits_and_scores_in_the_namespace():
    X, y = classification(n=400)
    kwargs = params("adam", early_stopping=True, n_iter_no_change=3, tol=1e-4, max_iter=60)
    ref = FNNClassifier(**kwargs).fit(X, y)
    est = FNNClassifier(**kwargs).fit(*on_torch(X, y))
    assert est.n_iter_ == ref.n_iter_ < 60
    assert_allclose(est.validation_scores_, ref.validation_scores_, rtol=1e-12)
    assert_allclose(est.validation_loss_curve_, ref.validation_loss_curve_, rtol=1e-10)
    assert isinstance(est._best_theta, torch.Tensor)
    assert relative_gap(est.coefs_, ref.coefs_) < 1e-10  # the best weights, restored


def test_validation_set_and_sample_weights_from_torch():
    X, y = regression(n_targets=1)
    w = np.linspace(0.5, 2.0, X.shape[0])
    kwargs = params("sgd", max_iter=10)
    ref = FNNRegressor(**kwargs).fit(X[:200], y[:200], sample_weight=w[:200],
                                     X_val=X[200:], y_val=y[200:], sample_weight_val=w[200:])
    Xt, yt, wt = on_torch(X, y, w)
    est = FNNRegressor(**kwargs).fit(Xt[:200], yt[:200], sample_weight=wt[:200],
                                     X_val=Xt[200:], y_val=yt[200:],
                                     sample_weight_val=wt[200:])
    assert relative_gap(est.coefs_, ref.coefs_) < 1e-10
    assert_allclose(est.validation_scores_, ref.validation_scores_, rtol=1e-10)
    assert abs(est.score(Xt, yt, sample_weight=wt) - ref.score(X, y, sample_weight=w)) < 1e-10


def test_partial_fit_and_warm_start_continue_on_the_device():
    X, y = classification()
    ref = FNNClassifier(**params("sgd"))
    est = FNNClassifier(**params("sgd"))
    Xt, yt = on_torch(X, y)
    for start in range(0, 240, 80):
        ref.partial_fit(X[start:start + 80], y[start:start + 80], classes=[0, 1, 2])
        est.partial_fit(Xt[start:start + 80], yt[start:start + 80],
                        classes=torch.asarray([0, 1, 2]))
    assert relative_gap(est.coefs_, ref.coefs_) < 1e-10
    ref.set_params(warm_start=True, max_iter=5).fit(X, y)
    est.set_params(warm_start=True, max_iter=5).fit(Xt, yt)
    assert relative_gap(est.coefs_, ref.coefs_) < 1e-10


def test_class_weights_weigh_as_on_numpy():
    X, y = classification()
    kwargs = params("adam", max_iter=10, class_weight="balanced")
    ref = FNNClassifier(**kwargs).fit(X[:200], y[:200])
    est = FNNClassifier(**kwargs).fit(*on_torch(X[:200], y[:200]))
    assert relative_gap(est.coefs_, ref.coefs_) < 1e-10


# ----------------------------------------------------------------------------
# Where the fitted model lives
# ----------------------------------------------------------------------------
def test_fitted_arrays_live_in_the_namespace_of_X_and_labels_where_y_lives():
    X, y = classification()
    est = FNNClassifier(**params("adam", max_iter=2)).fit(*on_torch(X, y))
    assert all(isinstance(p, torch.Tensor) for p in est.coefs_ + est.intercepts_)
    assert isinstance(est._optimizer.m, torch.Tensor)
    assert isinstance(est.classes_, torch.Tensor)
    assert_array_equal(host(est.classes_), [0, 1, 2])
    # coefs_ are views of the trained vector θ, as on numpy: training moves them.
    before = est.coefs_[0].clone()
    W = est.coefs_[0]
    est.partial_fit(*on_torch(X, y))
    assert est.coefs_[0] is W and not torch.equal(W, before)
    # String labels cannot be tensors: numpy, as scikit-learn's classifiers keep them.
    labels = np.array(["ant", "bee", "cat"])[y]
    est = FNNClassifier(**params("adam", max_iter=2)).fit(on_torch(X), labels)
    assert isinstance(est.classes_, np.ndarray)
    assert est.predict(on_torch(X)).dtype.kind == "U"


def test_scores_are_python_floats():
    X, y = classification()
    est = FNNClassifier(**params("adam", max_iter=2)).fit(*on_torch(X, y))
    assert type(est.score(*on_torch(X, y))) is float


def test_a_torch_model_pickles_as_tensors_and_continues_identically():
    X, y = classification()
    Xt, yt = on_torch(X, y)
    est = FNNClassifier(**params("adam", max_iter=3)).fit(Xt, yt)
    copy = pickle.loads(pickle.dumps(est))
    assert isinstance(copy.coefs_[0], torch.Tensor)
    assert torch.equal(copy.predict_proba(Xt), est.predict_proba(Xt))
    est.partial_fit(Xt, yt)
    copy.partial_fit(Xt, yt)
    assert all(torch.equal(a, b) for a, b in zip(est.coefs_, copy.coefs_, strict=True))


def test_move_estimator_to_numpy_keeps_one_trainable_model():
    X, y = classification()
    est = FNNClassifier(**params("adam", max_iter=3)).fit(*on_torch(X, y))
    moved = move_estimator_to(est, np, "cpu")
    assert isinstance(moved.coefs_[0], np.ndarray) and moved.coefs_[0].base is moved._theta
    assert isinstance(moved._optimizer.v, np.ndarray)
    assert_allclose(moved.predict_proba(X), host(est.predict_proba(on_torch(X))), atol=1e-12)
    moved.partial_fit(X, y)  # numpy training goes on from the same state
    est.partial_fit(*on_torch(X, y))
    assert relative_gap(est.coefs_, moved.coefs_) < 1e-10


def test_onnx_export_of_a_torch_model_predicts_as_the_model():
    import onnxruntime as ort

    from skfnn.onnx import to_onnx

    X, y = classification()
    est = FNNClassifier(**params("adam", max_iter=5)).fit(*on_torch(X, y))
    onx = to_onnx(est, X[:1].astype(np.float32))
    session = ort.InferenceSession(onx.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    labels, proba = session.run(None, {session.get_inputs()[0].name: X.astype(np.float32)})
    assert_array_equal(labels, host(est.predict(on_torch(X))))
    assert_allclose(proba, host(est.predict_proba(on_torch(X))), atol=1e-5)


def test_skfnn_io_refuses_a_torch_model_and_saves_it_moved():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from skfnn import io as skfnn_io

    X, y = classification()
    est = FNNClassifier(**params("adam", max_iter=3)).fit(*on_torch(X, y))
    for model in (est, make_pipeline(FunctionTransformer(), est)):
        with pytest.raises(ValueError, match="FNNClassifier was fitted on torch arrays on "
                                             "cpu. Move it first.*move_estimator_to"):
            skfnn_io.dumps(model)
    moved = move_estimator_to(est, np, "cpu")
    assert isinstance(moved.classes_, np.ndarray) and isinstance(est.classes_, torch.Tensor)
    loaded = skfnn_io.loads(skfnn_io.dumps(moved))
    assert_array_equal(loaded.predict_proba(X), moved.predict_proba(X))


# ----------------------------------------------------------------------------
# What is numpy-only, and the errors that say so
# ----------------------------------------------------------------------------
def test_predicting_other_data_than_the_fit_namespace_is_refused():
    X, y = classification()
    est = FNNClassifier(**params("adam", max_iter=2)).fit(*on_torch(X, y))
    for method in ("predict", "predict_proba", "predict_log_proba"):
        with pytest.raises(ValueError, match=f"FNNClassifier.{method}.*same namespace"):
            getattr(est, method)(X)
        with pytest.raises(ValueError, match="same namespace"):
            getattr(est, method)(sp.csr_matrix(X))
    with sklearn.config_context(array_api_dispatch=False):
        for data in (X, on_torch(X)):  # without dispatch, torch X is read as numpy
            with pytest.raises(ValueError, match=r"fitted on torch arrays on cpu, under "
                               r"array_api_dispatch; predict without it sees numpy data\. "
                               r"Call it inside sklearn.config_context\(array_api_dispatch="
                               r"True\).*or move the model first"):
                est.predict(data)


@pytest.mark.parametrize("fit_dtype, data_dtype", [(np.float32, np.float64),
                                                   (np.float64, np.float32),
                                                   (np.float32, np.int64)])
def test_other_dtypes_predict_and_train_as_on_numpy(fit_dtype, data_dtype):
    """numpy's products promote at prediction and train in θ's dtype; so does torch."""
    X, y = classification(dtype=fit_dtype)
    data = (X * 4).astype(data_dtype)  # integers that are not all 0 and ±1
    ref = FNNClassifier(**params("adam", max_iter=3)).fit(X, y)
    est = FNNClassifier(**params("adam", max_iter=3)).fit(*on_torch(X, y))
    proba, expected = est.predict_proba(on_torch(data)), ref.predict_proba(data)
    assert proba.dtype == getattr(torch, expected.dtype.name)
    assert_allclose(host(proba), expected, atol=1e-5)
    assert_allclose(host(est.predict_log_proba(on_torch(data))), ref.predict_log_proba(data),
                    atol=1e-4)
    assert est.coefs_[0].dtype == getattr(torch, np.dtype(fit_dtype).name)  # not cast
    ref.partial_fit(data, y)
    est.partial_fit(*on_torch(data, y))
    ref.set_params(warm_start=True, max_iter=2).fit(data, y)
    est.set_params(warm_start=True, max_iter=2).fit(*on_torch(data, y))
    assert est.coefs_[0].dtype == getattr(torch, ref.coefs_[0].dtype.name)
    assert relative_gap(est.coefs_, ref.coefs_) < 1e-5


def test_continuing_training_in_another_namespace_is_refused():
    X, y = classification()
    est = FNNClassifier(**params("adam", max_iter=2)).fit(X, y)
    with pytest.raises(ValueError, match="fitted on numpy; continuing training"):
        est.partial_fit(*on_torch(X, y))


def test_sparse_X_trains_on_numpy_under_dispatch():
    X, y = classification()
    est = FNNClassifier(**params("adam", max_iter=3)).fit(sp.csr_matrix(X), y)
    ref = FNNClassifier(**params("adam", max_iter=3)).fit(X, y)
    assert isinstance(est.coefs_[0], np.ndarray)
    assert_allclose(est.coefs_[0], ref.coefs_[0], rtol=1e-12)


def test_sparse_tensors_are_refused_with_the_way_out():
    X, y = classification()
    sparse = torch.asarray(X).to_sparse()
    with pytest.raises(ValueError, match="sparse PyTorch tensor.*numpy-only.*scipy.sparse"):
        FNNClassifier(**params("adam", max_iter=1)).fit(sparse, torch.asarray(y))
    est = FNNClassifier(**params("adam", max_iter=1)).fit(*on_torch(X, y))
    with pytest.raises(ValueError, match="sparse PyTorch tensor"):
        est.predict(sparse)


def test_gelu_without_erf_in_the_namespace_names_both():
    X, y = regression(n_targets=1)
    with pytest.raises(ValueError, match="'gelu' needs the error function erf.*array_api_strict"):
        FNNRegressor(**params("adam", activation="gelu", max_iter=1)).fit(*strict(X, y))


class NumpyCube(Activation):
    """σ(z) = z³ written with numpy calls."""

    name = "numpy_cube"

    def forward(self, z):
        return np.power(z, 3)

    def derivative(self, z, a):
        return 3 * np.square(z)


class Softsign(Activation):
    """σ(z) = z / (1 + |z|), σ'(z) = 1 / (1 + |z|)², namespace-generic."""

    name = "softsign"

    def forward(self, z):
        return z / (1 + array_namespace(z).abs(z))

    def derivative(self, z, a):
        return 1 / (1 + array_namespace(z).abs(z)) ** 2


def test_a_numpy_written_activation_gets_a_clear_error_under_dispatch():
    # (numpy's functions convert PyTorch's CPU tensors, there it runs, on the host; on
    # a GPU, or on array-api-strict's devices, numpy cannot read the arrays.)
    X, y = regression(n_targets=1)
    est = FNNRegressor(**params("adam", activation=NumpyCube(), max_iter=1))
    with pytest.raises(TypeError, match=r"NumpyCube\(\) \(layer 1\) raised RuntimeError .* "
                                        r"from forward\(z\) on array_api_strict arrays.*"
                                        r"xp = skfnn.array_namespace\(z\)"):
        est.fit(*strict(X, y))
    est.fit(X, y)  # numpy-only: it trains numpy arrays


def test_a_namespace_generic_activation_trains_everywhere():
    X, y = regression(n_targets=1)
    ref = FNNRegressor(**params("adam", activation=Softsign(), max_iter=5)).fit(X, y)
    for data in (on_torch(X, y), strict(X, y)):
        est = FNNRegressor(**params("adam", activation=Softsign(), max_iter=5)).fit(*data)
        assert relative_gap(est.coefs_, ref.coefs_) < 1e-10


def test_older_scikit_learn_is_named(monkeypatch):
    from skfnn import _array_api

    monkeypatch.setattr(_array_api, "HAS_ARRAY_API", False)
    X, y = classification()
    with pytest.raises(ValueError, match="needs scikit-learn >= 1.9"):
        FNNClassifier(**params("adam", max_iter=1)).fit(*on_torch(X, y))


class _CopyingNamespace:
    """A namespace whose slices are copies (as JAX's): in-place training cannot work."""

    __name__ = "copying"

    @staticmethod
    def zeros(n, device=None):
        return _CopyingArray(np.zeros(n))


class _CopyingArray:
    def __init__(self, data):
        self.data = data

    def __getitem__(self, key):
        return _CopyingArray(self.data[key].copy())

    def __iadd__(self, other):
        self.data = self.data + other
        return self

    def __float__(self):
        return float(self.data)


def test_a_namespace_without_mutable_views_is_refused():
    from skfnn._array_api import check_trainable

    with pytest.raises(ValueError, match="cannot train on _CopyingNamespace arrays.*in place"):
        check_trainable(_CopyingNamespace, None)


# ----------------------------------------------------------------------------
# benchmarks/gpu.py
# ----------------------------------------------------------------------------
def test_the_gpu_benchmark_runs_here_and_its_device_fits_are_the_numpy_fits():
    import re
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, str(root / "benchmarks" / "gpu.py"), "--smoke"],
                            capture_output=True, text=True, timeout=600, cwd=root)
    assert result.returncode == 0, result.stderr
    rows = {m.group(1): [float(v) for v in m.group(2).split()] for m in re.finditer(
        r"^(wide|large-sgd|xl)\s+float32\s+(.*)$", result.stdout, re.M)}
    assert set(rows) == {"wide", "large-sgd", "xl"}
    assert "device: cpu" in result.stdout  # no GPU here: PyTorch's CPU build
    def quotient_of(ratio, num, den, h=5e-4):
        """Could ``ratio`` (printed to 0.005) be num / den (each printed to 0.0005)?"""
        low = (num - h) / (den + h)
        high = (num + h) / (den - h) if den > h else float("inf")
        return low - 5e-3 <= ratio <= high + 5e-3

    for sk, fnn, dev, sk_dev, np_dev, floor, x_floor, gap in rows.values():
        # The printed ratios are those of the printed times (to their rounding) ...
        assert quotient_of(sk_dev, sk, dev) and quotient_of(np_dev, fnn, dev)
        assert quotient_of(x_floor, dev, floor)
        # ... and the device fit is the numpy fit, in float32.
        assert gap < 1e-4

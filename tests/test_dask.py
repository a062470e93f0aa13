"""skfnn on Dask (issue 13): distributed L-BFGS, searches on a cluster, out-of-core training.

Every test that needs a cluster gets it from a fixture that starts a real
``distributed.LocalCluster`` (process workers) and closes it afterwards; each
test is bounded in time (pytest-timeout). Expected values come from the same
estimator fitted in memory, the engine evaluated in memory on the same θ, a
plain loop of ``partial_fit`` over the same blocks, or ``n_jobs=1``.
"""

import contextlib
import copy

import dask.array as da  # the "dask" extra, which the "test" extra pulls in
import distributed
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import DataConversionWarning

from skfnn import FNNClassifier, FNNRegressor, _dask, _training

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]


_BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def local_cluster(threads_per_worker, blas_threads=1):
    """A client on two process workers with that many BLAS threads each, closed on exit.

    A nanny exports its BLAS variables into this process's environment before it
    spawns a worker, and they win over its own configuration; they are set here for
    the cluster's start and restored afterwards.
    """
    with pytest.MonkeyPatch.context() as env:
        for name in _BLAS_VARIABLES:
            env.setenv(name, str(blas_threads))
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=threads_per_worker,
                                           processes=True, dashboard_address=":0")
    client = distributed.Client(cluster, timeout=60)
    try:
        yield client
    finally:
        client.close(timeout=30)
        cluster.close(timeout=30)


@pytest.fixture(scope="module")
def client():
    """Two process workers with one thread each (the issue's configuration)."""
    with local_cluster(threads_per_worker=1) as client:
        yield client


# ----------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------
def regression_data(n=300, n_outputs=1, seed=0):
    X, y = make_regression(n_samples=n, n_features=6, n_targets=n_outputs, noise=1.0,
                           random_state=seed)
    return X, y / np.std(y)


def classification_data(n=300, n_classes=3, seed=0):
    return make_classification(n_samples=n, n_features=6, n_informative=4, n_redundant=0,
                               n_classes=n_classes, random_state=seed)


def weights(n, seed=0):
    return np.random.default_rng(seed).uniform(0.1, 3.0, n)


def chunked(a, rows=70):
    """A dask array of ``a`` in row blocks of ``rows`` (and, for X, two column blocks)."""
    if a.ndim == 2 and a.shape[1] > 3:
        return da.from_array(a, chunks=(rows, 3))  # _dask rechunks columns to one block
    return da.from_array(a, chunks=(rows,) + a.shape[1:])


# The in-memory and distributed objectives, evaluated on one θ through the estimator's
# own L-BFGS driver: the driver is replaced by a probe that calls the objective once.
class _Probe(Exception):
    pass


def objective_at(estimator, theta_of, X, y, sample_weight=None):
    """(J, ∇J) that ``estimator.fit(X, y)`` would hand to L-BFGS, at θ = theta_of(size)."""
    seen = {}

    def probe(run, hooks, *, max_fun, tol, objective=None):
        evaluate = objective or _training._in_memory_objective(run)
        seen["value"] = evaluate(theta_of(run.theta.size))
        raise _Probe

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_training, "fit_lbfgs", probe)
        with pytest.raises(_Probe):
            estimator.fit(X, y, sample_weight=sample_weight)
    return seen["value"]


def assert_same_params(est, state):
    for ours, theirs in zip(est.coefs_ + est.intercepts_,
                            state["coefs_"] + state["intercepts_"], strict=True):
        assert_array_equal(ours, theirs)


def random_theta(size):
    return np.random.default_rng(42).normal(0.0, 0.5, size)


# ----------------------------------------------------------------------
# 1. Distributed L-BFGS
# ----------------------------------------------------------------------
def test_no_client_is_a_clear_error():
    assert distributed.client._get_global_client() is None  # precondition: runs first
    X, y = regression_data(n=20)
    with pytest.raises(ValueError, match="no Client is connected"):
        FNNRegressor((3,), solver="lbfgs").fit(chunked(X), chunked(y))


CASES = {
    "regressor": (FNNRegressor, lambda: regression_data()),
    "regressor-2-outputs": (FNNRegressor, lambda: regression_data(n_outputs=2)),
    "binary": (FNNClassifier, lambda: classification_data(n_classes=2)),
    "multiclass": (FNNClassifier, lambda: classification_data(n_classes=3)),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_gradient_equals_the_in_memory_engine_on_the_same_theta(client, case, weighted):
    Estimator, data = CASES[case]
    X, y = data()
    sw = weights(len(X)) if weighted else None
    est = Estimator((7, 4), activation="tanh", solver="lbfgs", alpha=0.3, random_state=0)
    J_mem, g_mem = objective_at(clone(est), random_theta, X, y, sw)
    J_dask, g_dask = objective_at(clone(est), random_theta, chunked(X), chunked(y),
                                  None if sw is None else chunked(sw))
    assert g_dask.dtype == np.float64 and g_dask.shape == g_mem.shape
    assert abs(J_dask - J_mem) <= 1e-12 * abs(J_mem)
    assert np.max(np.abs(g_dask - g_mem)) <= 1e-12 * np.max(np.abs(g_mem))
    # Not a vacuous comparison: α and the weights do change the objective.
    J_plain, _ = objective_at(clone(est).set_params(alpha=0.0), random_theta, X, y)
    assert abs(J_plain - J_mem) > 1e-6 * abs(J_mem)


@pytest.mark.parametrize("class_weight", ["balanced", {0: 1.0, 1: 4.0, 2: 0.5}])
def test_class_weights_fold_into_the_weights_as_in_memory(client, class_weight):
    """'balanced' needs each class's total weight: summed on the cluster, never from y."""
    X, y = classification_data(n_classes=3)
    keep = np.r_[np.flatnonzero(y != 2), np.flatnonzero(y == 2)[:20]]  # unbalanced
    X, y = X[keep], y[keep]
    sw = weights(len(X))
    est = FNNClassifier((5,), solver="lbfgs", alpha=0.1, class_weight=class_weight,
                        random_state=0)
    J_mem, g_mem = objective_at(clone(est), random_theta, X, y, sw)
    J_dask, g_dask = objective_at(clone(est), random_theta, chunked(X), chunked(y), chunked(sw))
    assert abs(J_dask - J_mem) <= 1e-12 * abs(J_mem)
    assert np.max(np.abs(g_dask - g_mem)) <= 1e-12 * np.max(np.abs(g_mem))
    J_plain, _ = objective_at(clone(est).set_params(class_weight=None), random_theta, X, y, sw)
    assert abs(J_plain - J_mem) > 1e-6 * abs(J_mem)  # the class weights do matter


def test_gradient_with_blocks_whose_weights_are_all_zero(client):
    """A block of zero weights contributes nothing (the engine alone would divide 0 by 0)."""
    X, y = regression_data(n=210)
    sw = weights(210)
    sw[70:140] = 0.0  # exactly the second block
    est = FNNRegressor((5,), solver="lbfgs", alpha=0.1, random_state=0)
    J_mem, g_mem = objective_at(clone(est), random_theta, X, y, sw)
    J_dask, g_dask = objective_at(clone(est), random_theta, chunked(X), chunked(y), chunked(sw))
    assert np.isfinite(J_dask) and np.isfinite(g_dask).all()
    assert abs(J_dask - J_mem) <= 1e-12 * abs(J_mem)
    assert np.max(np.abs(g_dask - g_mem)) <= 1e-12 * np.max(np.abs(g_mem))


FITTED = ["coefs_", "intercepts_", "loss_", "loss_curve_", "best_loss_", "n_iter_", "t_",
          "n_layers_", "n_outputs_", "out_activation_", "n_features_in_"]


@pytest.mark.parametrize("case", ["regressor", "multiclass"])
def test_fit_follows_the_in_memory_loss_curve(client, case):
    Estimator, data = CASES[case]
    X, y = data()
    sw = weights(len(X))
    est = Estimator((8,), solver="lbfgs", alpha=0.01, max_iter=15, random_state=0)
    mem = clone(est).fit(X, y, sample_weight=sw)
    dist = clone(est).fit(chunked(X), chunked(y), sample_weight=chunked(sw))
    assert len(mem.loss_curve_) == 15
    # The same iterates up to summation order: the curves agree far below their steps.
    assert_allclose(dist.loss_curve_[:10], mem.loss_curve_[:10], rtol=1e-9)
    assert np.min(np.abs(np.diff(mem.loss_curve_[:10]))) > 1e-6 * mem.loss_curve_[0]
    # Exactly the fitted attributes of the in-memory fit, and the same model.
    public = lambda e: {k for k in vars(e) if k.endswith("_") and not k.startswith("_")}  # noqa
    assert public(dist) == public(mem)
    for name in FITTED:
        assert type(getattr(dist, name)) is type(getattr(mem, name)), name
    assert dist.n_iter_ == mem.n_iter_ and dist.n_features_in_ == 6
    assert_allclose(dist.predict(X[:20]) if case == "regressor" else dist.predict_proba(X[:20]),
                    mem.predict(X[:20]) if case == "regressor" else mem.predict_proba(X[:20]),
                    rtol=1e-6, atol=1e-8)
    if case == "multiclass":
        assert_array_equal(dist.classes_, mem.classes_)


# A fit long enough for L-BFGS to amplify one differing last bit into another path
# (the fits on the same cluster ended after 157, 284 and 185 iterations).
def long_fit():
    return FNNClassifier((20,), solver="lbfgs", alpha=1e-5, max_iter=60, random_state=0)


def placed_on(client, a, worker):
    """``a`` (a dask array) with all its blocks computed and held on ``worker``."""
    return client.persist(a, workers=[worker])


@pytest.mark.slow
def test_distributed_fit_is_reproducible_wherever_the_blocks_lie(client):
    """The blocks' terms are added in block order, whichever worker holds which block:
    blocks spread over both workers, then all on one, then all on the other, give the
    same fit to the last bit (before: partial sums per worker, and blocks received from
    another worker multiplied without BLAS at an unaligned address)."""
    X, y = classification_data(n=600)
    workers = sorted(client.nthreads())
    inputs = [(chunked(X), chunked(y))] + [
        (placed_on(client, chunked(X), w), placed_on(client, chunked(y), w)) for w in workers]
    fits = [long_fit().fit(Xd, yd) for Xd, yd in inputs]
    assert fits[0].n_iter_ == 60  # not converged: every iteration takes part
    for other in fits[1:]:
        assert other.n_iter_ == fits[0].n_iter_
        assert other.loss_curve_ == fits[0].loss_curve_
        assert_same_params(other, vars(fits[0]))
    # In memory the same rows are summed in another order (BLAS over all rows at once):
    # the curves agree far below their steps at first, then the paths part.
    mem = long_fit().fit(X, y)
    assert_allclose(fits[0].loss_curve_[:10], mem.loss_curve_[:10], rtol=1e-9)


@contextlib.contextmanager
def killing_a_worker(client, at_evaluation, counts):
    """Kill (SIGKILL) one worker's process just before the given evaluation of (J, ∇J);
    its nanny starts a new one. ``counts["evaluations"]`` counts them."""
    import os
    import signal

    evaluate = _dask.DistributedObjective.__call__

    def evaluate_and_kill(self, x):
        counts["evaluations"] += 1
        if counts["evaluations"] == at_evaluation:
            victim = min(client.nthreads())
            os.kill(client.run(os.getpid, workers=[victim])[victim], signal.SIGKILL)
        return evaluate(self, x)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_dask.DistributedObjective, "__call__", evaluate_and_kill)
        yield


@pytest.fixture
def own_client():
    """A cluster of its own, for tests that kill its workers."""
    with local_cluster(threads_per_worker=1) as client:
        yield client


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_a_worker_killed_mid_fit_gives_the_fault_free_model(own_client):
    """Blocks built by the graph are recomputed on the surviving worker: the fit goes
    on to the model of a fit without the fault, bit for bit (before: hung in the
    broadcast of θ to the dead worker, or a raw KeyError naming its address)."""
    X, y = classification_data(n=600)
    reference = long_fit().fit(chunked(X), chunked(y))
    counts = {"evaluations": 0}
    with killing_a_worker(own_client, 5, counts):
        faulted = long_fit().fit(chunked(X), chunked(y))
    assert counts["evaluations"] > 5  # the fit went on after the kill
    assert faulted.n_iter_ == reference.n_iter_
    assert faulted.loss_curve_ == reference.loss_curve_
    assert_same_params(faulted, vars(reference))


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_lost_blocks_that_cannot_be_recomputed_are_a_clear_error(own_client):
    """Blocks that lived only on the killed worker (scattered, not in the graph) cannot
    be recomputed: a clear error naming the lost worker, and the estimator untouched."""
    X, y = classification_data(n=600)
    scattered = own_client.scatter([X[i:i + 100] for i in range(0, 600, 100)])
    X_dask = da.concatenate([da.from_delayed(block, shape=(100, 6), dtype=X.dtype)
                             for block in scattered])
    victim = min(own_client.nthreads())  # the worker killing_a_worker kills
    held = own_client.who_has(scattered)
    assert any(victim in held[f.key] for f in scattered)  # precondition: it holds some
    estimator = long_fit()
    with killing_a_worker(own_client, 3, {"evaluations": 0}), \
            pytest.raises(RuntimeError, match=r"lost data that the L-BFGS fit needs "
                          rf"\(workers gone since the fit started: {victim}\).*scatter"):
        estimator.fit(X_dask, chunked(y, rows=100))
    assert not hasattr(estimator, "coefs_")


def test_classifier_string_labels_learned_on_the_cluster(client):
    X, y = classification_data(n_classes=3)
    labels = np.array(["cat", "dog", "emu"])[y]
    est = FNNClassifier((6,), solver="lbfgs", max_iter=5, random_state=0)
    mem = clone(est).fit(X, labels)
    dist = clone(est).fit(chunked(X), chunked(labels))
    assert_array_equal(dist.classes_, ["cat", "dog", "emu"])
    assert dist.out_activation_ == "softmax"
    assert_allclose(dist.loss_curve_, mem.loss_curve_, rtol=1e-9)
    assert_array_equal(dist.predict(X), mem.predict(X))


def test_numpy_targets_and_scalar_weights_with_dask_X(client):
    X, y = regression_data()
    est = FNNRegressor((5,), solver="lbfgs", alpha=1.0, max_iter=5, random_state=0)
    # A scalar weight is n copies of itself: it changes the α term's scale, as in memory.
    mem = clone(est).fit(X, y, sample_weight=3.0)
    dist = clone(est).fit(chunked(X), y, sample_weight=3.0)
    assert_allclose(dist.loss_curve_, mem.loss_curve_, rtol=1e-9)
    assert not np.allclose(clone(est).fit(X, y).loss_curve_, mem.loss_curve_)


def test_float32_trains_in_float32(client):
    X, y = regression_data()
    X32 = X.astype(np.float32)
    est = FNNRegressor((5,), solver="lbfgs", max_iter=5, random_state=0)
    mem = clone(est).fit(X32, y)
    dist = clone(est).fit(chunked(X32), chunked(y))
    assert all(W.dtype == np.float32 for W in dist.coefs_ + dist.intercepts_)
    assert_allclose(dist.loss_curve_[:3], mem.loss_curve_[:3], rtol=1e-5)


def test_warm_start_continues_from_the_fitted_weights(client):
    X, y = regression_data()
    est = FNNRegressor((5,), solver="lbfgs", max_iter=4, warm_start=True, random_state=0)
    mem = clone(est).fit(X, y).fit(X, y)
    dist = clone(est).fit(chunked(X), chunked(y)).fit(chunked(X), chunked(y))
    assert len(dist.loss_curve_) == 8
    assert_allclose(dist.loss_curve_, mem.loss_curve_, rtol=1e-8)


def test_column_vector_target_warns_as_in_memory(client):
    X, y = classification_data(n_classes=2)
    est = FNNClassifier((3,), solver="lbfgs", max_iter=2, random_state=0)
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        clone(est).fit(X, y.reshape(-1, 1))
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        clone(est).fit(chunked(X), chunked(y.reshape(-1, 1)))


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_stochastic_solvers_point_to_the_out_of_core_path(client, solver):
    X, y = classification_data(n=40)
    with pytest.raises(ValueError, match=rf"solver='{solver}' cannot fit dask arrays.*"
                                         r"partial_fit.*Incremental.*docs/scaling.md"):
        FNNClassifier(solver=solver).fit(chunked(X), chunked(y))
    with pytest.raises(TypeError, match="partial_fit does not take dask arrays"):
        FNNClassifier(solver=solver).partial_fit(chunked(X), chunked(y), classes=[0, 1])


def _bad(kind):
    """Data with one problem, placed beyond the rows that the client validates itself."""
    X, y = regression_data(n=400)
    sw = weights(400)
    row = _dask.HEAD_ROWS + 77
    if kind == "X-nan":
        X[row, 2] = np.nan
    elif kind == "X-inf":
        X[row, 0] = np.inf
    elif kind == "y-nan":
        y[row] = np.nan
    elif kind == "sw-nan":
        sw[row] = np.nan
    elif kind == "sw-zero":
        sw[:] = 0.0
    elif kind == "sw-negative":
        sw[row] = -1.0
    elif kind == "sw-2d":
        sw = sw.reshape(200, 2)
    elif kind == "length":
        y = y[:390]
    elif kind == "X-1d":
        X = X[:, 0]
    return X, y, sw


@pytest.mark.parametrize("kind", ["X-nan", "X-inf", "y-nan", "sw-nan", "sw-zero",
                                  "sw-negative", "sw-2d",
                                  "length", "X-1d"])
def test_bad_input_gets_the_in_memory_error_without_touching_the_estimator(client, kind):
    """The offending values sit beyond the first block: they are found on the cluster."""
    X, y, sw = _bad(kind)
    est = FNNRegressor((3,), solver="lbfgs", max_iter=3, random_state=0)
    with pytest.raises(ValueError) as in_memory:
        clone(est).fit(X, y, sample_weight=sw)
    fitted = clone(est).fit(*regression_data(n=100))
    before = copy.deepcopy(vars(fitted))
    with pytest.raises(ValueError) as on_dask:
        fitted.fit(chunked(X), chunked(y), sample_weight=chunked(sw))
    if kind == "X-1d":  # the message quotes the array: the client only holds its first rows
        assert str(on_dask.value).startswith("Expected 2D array, got 1D array instead:")
    else:
        assert str(on_dask.value) == str(in_memory.value)
    assert vars(fitted).keys() == before.keys()
    assert_same_params(fitted, before)
    assert fitted.loss_curve_ == before["loss_curve_"] and fitted.n_iter_ == before["n_iter_"]


def test_loss_target_check_runs_on_every_block(client):
    X, y = regression_data(n=140)
    y = np.abs(y)
    y[120] = -1.0  # in the second block only
    est = FNNRegressor((3,), solver="lbfgs", loss="poisson", random_state=0)
    with pytest.raises(ValueError, match="negative, which is not allowed for the poisson"):
        est.fit(chunked(X), chunked(y))
    assert not hasattr(est, "coefs_")


def test_unknown_chunk_sizes_and_dask_dataframes_are_clear_errors(client):
    X, y = regression_data(n=100)
    Xd = chunked(X)
    unknown = Xd[Xd[:, 0] > -10]  # boolean indexing: row counts unknown until computed
    with pytest.raises(ValueError, match=r"unknown chunk sizes; call X.compute_chunk_sizes"):
        FNNRegressor(solver="lbfgs").fit(unknown, chunked(y))
    import dask.dataframe as dd  # present with dask-ml (a test dependency)
    import pandas as pd

    frame = dd.from_pandas(pd.DataFrame(X), npartitions=2)
    with pytest.raises(TypeError, match=r"X is a DataFrame; .*X.to_dask_array\(lengths=True\)"):
        FNNRegressor(solver="lbfgs").fit(frame, chunked(y))


# ----------------------------------------------------------------------
# 2. Hyperparameter search on a cluster (joblib's "dask" backend)
# ----------------------------------------------------------------------
@pytest.fixture(scope="module", params=[1, 2], ids=["1-thread-workers", "2-thread-workers"])
def search_client(request):
    """Workers with two BLAS threads each (distributed's default is one), so that a fit
    which limits BLAS to one thread and fails to restore the setting is seen."""
    with local_cluster(threads_per_worker=request.param, blas_threads=2) as client:
        yield client


def blas_threads(client):
    """{worker: {threads of each BLAS pool}} as threadpoolctl reads them on each worker.

    Libraries loaded later (scipy's own OpenBLAS, on the first L-BFGS fit) start from
    the same environment, so every pool of every worker is compared.
    """
    from threadpoolctl import threadpool_info

    return {worker: {pool["num_threads"] for pool in pools if pool["user_api"] == "blas"}
            for worker, pools in client.run(threadpool_info).items()}


def assert_same_cv_results(ours, reference):
    assert ours["params"] == reference["params"]
    keys = [k for k in reference if not k.endswith("_time") and k != "params"]
    assert set(ours) == set(reference)
    for key in keys:
        assert_array_equal(ours[key], reference[key], err_msg=key)
    # Not degenerate: the candidates score differently.
    assert len(set(reference["mean_test_score"])) > 1


def run_on_dask(client, search, X, y):
    """Fit ``search`` (n_jobs=-1) under joblib's dask backend; check the workers did it."""
    import joblib

    before = blas_threads(client)
    with distributed.get_task_stream(client) as tasks, joblib.parallel_config(backend="dask"):
        search.set_params(n_jobs=-1).fit(X, y)
    assert {task["worker"] for task in tasks.data} == set(client.nthreads())
    # Every worker's BLAS pools are as they were before the search.
    assert before == {worker: {2} for worker in client.nthreads()}
    assert blas_threads(client) == before
    return search


def test_grid_search_on_dask_equals_n_jobs_1(search_client):
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = classification_data(n=150)
    pipe = make_pipeline(StandardScaler(), FNNClassifier(max_iter=15, learning_rate_init=0.01,
                                                         random_state=0))
    grid = {"fnnclassifier__alpha": [1e-4, 0.3],
            "fnnclassifier__hidden_layer_sizes": [(4,), (9,)],
            "fnnclassifier__solver": ["adam", "lbfgs"]}
    reference = GridSearchCV(pipe, grid, cv=3, n_jobs=1).fit(X, y)
    on_dask = run_on_dask(search_client, GridSearchCV(pipe, grid, cv=3), X, y)
    assert_same_cv_results(on_dask.cv_results_, reference.cv_results_)
    assert_array_equal(on_dask.predict_proba(X), reference.predict_proba(X))


def test_randomized_search_on_dask_equals_n_jobs_1(search_client):
    from scipy.stats import loguniform
    from sklearn.model_selection import RandomizedSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = regression_data(n=150)
    pipe = make_pipeline(StandardScaler(), FNNRegressor((6,), max_iter=15, random_state=0))
    space = {"fnnregressor__alpha": loguniform(1e-5, 1.0),
             "fnnregressor__learning_rate_init": loguniform(1e-3, 1e-1),
             "fnnregressor__activation": ["relu", "tanh"]}
    search = RandomizedSearchCV(pipe, space, n_iter=5, cv=3, random_state=0)
    reference = clone(search).set_params(n_jobs=1).fit(X, y)
    on_dask = run_on_dask(search_client, search, X, y)
    assert_same_cv_results(on_dask.cv_results_, reference.cv_results_)


def test_distributed_lbfgs_leaves_the_workers_blas_as_it_was(search_client):
    """With two threads per worker, a worker's blocks are summed by two concurrent tasks."""
    X, y = regression_data(n=600)
    before = blas_threads(search_client)
    with search_client.as_current():
        dist = FNNRegressor((6,), solver="lbfgs", max_iter=8, random_state=0).fit(
            chunked(X, rows=50), chunked(y, rows=50))
    mem = FNNRegressor((6,), solver="lbfgs", max_iter=8, random_state=0).fit(X, y)
    assert_allclose(dist.loss_curve_, mem.loss_curve_, rtol=1e-9)
    assert before == {worker: {2} for worker in search_client.nthreads()}
    assert blas_threads(search_client) == before


# ----------------------------------------------------------------------
# 3. Out-of-core training: partial_fit over blocks
# ----------------------------------------------------------------------
def dask_ml_incremental():
    """dask_ml.wrappers.Incremental, where dask-ml can run.

    The "test" extra installs dask-ml. At the minimum versions that CI also
    tests (numpy 1.23, scikit-learn 1.7) no release of it works: those that
    accept numpy 1.23 import scikit-learn helpers that 1.7 removed, and those
    that work with scikit-learn 1.7 need numpy 1.24.
    """
    try:
        import dask_ml._partial  # noqa: F401  (what the workers import to run it)
        from dask_ml.wrappers import Incremental
    except ImportError as error:
        pytest.skip(f"no dask-ml release runs with numpy {np.__version__} and this "
                    f"scikit-learn: {error}")
    return Incremental


def partial_fit_loop(estimator, X, y, order, rows, classes):
    """The reference: one partial_fit per block of ``rows`` rows, blocks in ``order``."""
    for i in order:
        block = slice(i * rows, (i + 1) * rows)
        estimator.partial_fit(X[block], y[block], classes=classes)
    return estimator


@pytest.mark.parametrize("shuffle_blocks", [False, True])
def test_incremental_equals_a_partial_fit_loop_over_the_blocks(client, shuffle_blocks):
    Incremental = dask_ml_incremental()

    X, y = classification_data(n=400)
    est = FNNClassifier((8,), learning_rate_init=0.01, random_state=0)
    inc = Incremental(est, shuffle_blocks=shuffle_blocks, random_state=3)
    # X in one column block: dask-ml's Incremental would fit the first column block only.
    Xd = da.from_array(X, chunks=(50, -1))
    inc.fit(Xd, chunked(y, rows=50), classes=[0, 1, 2])  # the classes given once
    order = np.arange(8)
    if shuffle_blocks:  # dask-ml's order: its random_state shuffles the block indices
        np.random.RandomState(3).shuffle(order)
    loop = partial_fit_loop(clone(est), X, y, order, 50, classes=[0, 1, 2])
    fitted = inc.estimator_
    assert fitted.t_ == loop.t_ == 400  # every row seen once (n_iter_ counts calls' epochs: 1)
    for ours, ref in zip(fitted.coefs_ + fitted.intercepts_,
                         loop.coefs_ + loop.intercepts_, strict=True):
        assert_allclose(ours, ref, rtol=1e-12, atol=1e-15)
    assert_array_equal(inc.predict(X), loop.predict(X))
    # One pass over the blocks is one epoch of a full fit, shuffled within blocks only.
    full = clone(est).set_params(max_iter=1).fit(X, y)
    assert not np.allclose(full.coefs_[0], fitted.coefs_[0])


# Run in a fresh interpreter: tracemalloc sees every thread's allocations, and this
# process has the clusters' client threads allocating in the background.
_MEMMAP_LOOP = """
import json, sys, tracemalloc
import numpy as np
from skfnn import FNNClassifier

path, n_chunks, chunk, n_features = sys.argv[1], *map(int, sys.argv[2:])
X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64,
                              shape=(n_chunks * chunk, n_features))
rng = np.random.default_rng(0)
for start in range(0, X.shape[0], chunk):
    X[start:start + chunk] = rng.standard_normal((chunk, n_features))
X.flush()
del X
X = np.load(path, mmap_mode="r")
y = (X[:, 0] + X[:, 1] > 0).astype(int)
est = FNNClassifier((16,), random_state=0).partial_fit(X[:chunk], y[:chunk], classes=[0, 1])
tracemalloc.start()
for start in range(chunk, X.shape[0], chunk):
    est.partial_fit(X[start:start + chunk], y[start:start + chunk])
loop_peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
tracemalloc.start()
np.array(X)  # what fit(np.asarray(X)) starts with: the whole data in memory
load_peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({"loop": loop_peak, "load": load_peak, "t_": int(est.t_)}))
"""


def memmap_loop_peaks(tmp_path, n_chunks, chunk, n_features):
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _MEMMAP_LOOP, str(tmp_path / f"X{n_chunks}.npy"),
         str(n_chunks), str(chunk), str(n_features)],
        capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def test_partial_fit_over_a_memmap_uses_memory_bounded_by_the_chunk(tmp_path):
    chunk, n_features = 2000, 40
    chunk_bytes = chunk * n_features * 8
    small, large = (memmap_loop_peaks(tmp_path, n, chunk, n_features) for n in (4, 16))
    assert small["t_"] == 4 * chunk and large["t_"] == 16 * chunk
    # 16 chunks cost what 4 cost: memory does not grow with the data ...
    assert large["loop"] <= 1.05 * small["loop"] + 2**16
    # ... and stays below one chunk of X although X holds sixteen,
    assert large["loop"] < chunk_bytes
    # while loading the data (what an in-memory fit starts with) costs all of it.
    assert large["load"] >= 16 * chunk_bytes

"""The one-BLAS-thread limit of small fits never leaks and never reaches bystanders.

OpenBLAS's thread count is process-wide, so these tests read it with
threadpoolctl from inside a fit (through an activation that records it) and
after overlapping fits in several threads.
"""

import random
import threading
import time

import numpy as np
import pytest
from sklearn.datasets import make_regression
from threadpoolctl import threadpool_info, threadpool_limits

from skfnn import Activation, FNNRegressor
from skfnn._threads import MIN_WORK_PER_THREAD, blas_threads_for


def blas_threads():
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


class RecordingTanh(Activation):
    """tanh that records the BLAS thread counts seen during its first call."""

    name = "recording_tanh"

    def __init__(self):
        self.seen = []

    def forward(self, z):
        if not self.seen:
            self.seen.append(blas_threads())
        return np.tanh(z)

    def derivative(self, z, a):
        return 1 - a**2


@pytest.fixture
def two_blas_threads():
    """Run with two BLAS threads (this machine's default), whatever the environment."""
    with threadpool_limits(limits=2, user_api="blas"):
        assert set(blas_threads()) == {2}
        yield 2


def small_fit(activation=None, max_iter=2):
    X, y = make_regression(n_samples=60, n_features=4, random_state=0)
    est = FNNRegressor((5,), activation=activation or "relu", max_iter=max_iter,
                       random_state=0)
    return est.fit(X, y)


def test_a_small_fit_alone_runs_on_one_blas_thread_and_restores_it(two_blas_threads):
    sigma = RecordingTanh()
    small_fit(sigma)
    assert sigma.seen == [[1] * len(sigma.seen[0])]
    assert set(blas_threads()) == {2}


def test_a_large_fit_keeps_the_users_setting(two_blas_threads):
    sigma = RecordingTanh()
    X = np.random.default_rng(0).standard_normal((2100, 100))
    units = (X.shape[0], 100, 2048)
    assert units[0] * units[1] * units[2] >= MIN_WORK_PER_THREAD
    FNNRegressor((2048,), activation=sigma, solver="lbfgs", max_iter=1,
                 random_state=0).fit(X, X[:, 0])
    assert set(sigma.seen[0]) == {2}


def test_a_small_fit_does_not_slow_a_thread_that_is_not_fitting(two_blas_threads):
    """Another (non-daemon) thread is alive: the fit leaves BLAS as it is."""
    release = threading.Event()
    bystander = threading.Thread(target=release.wait, daemon=False)
    bystander.start()
    try:
        sigma = RecordingTanh()
        small_fit(sigma)
        assert set(sigma.seen[0]) == {2}
    finally:
        release.set()
        bystander.join()
    # With the bystander gone the same fit takes the limit again.
    sigma = RecordingTanh()
    small_fit(sigma)
    assert set(sigma.seen[0]) == {1}


def test_overlapping_limits_end_with_the_holder_in_every_order(two_blas_threads):
    """The main thread's fit holds the limit; fits in other threads overlap it,
    entering and leaving in shuffled orders, before or after the holder ends,
    repeatedly: none of them changes the setting, and the holder's end restores it."""
    n_threads, rounds = 4, 25
    seen, errors = [], []

    def overlapping(entered, delay):
        try:
            with blas_threads_for(10, (4, 5, 1)):
                entered.wait()  # all inside at once
                time.sleep(delay * 1e-3)  # leave in a shuffled order
                seen.append(blas_threads())
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    rng = random.Random(0)
    for _ in range(rounds):
        holder_first = rng.random() < 0.5
        entered = threading.Barrier(n_threads + 1)
        workers = [threading.Thread(target=overlapping, args=(entered, d))
                   for d in rng.sample(range(n_threads), n_threads)]
        with blas_threads_for(10, (4, 5, 1)):
            assert set(blas_threads()) == {1}
            for worker in workers:
                worker.start()
            entered.wait()
            if not holder_first:
                for worker in workers:
                    worker.join()
                assert set(blas_threads()) == {1}  # the holder still runs
        for worker in workers:
            worker.join()
        assert set(blas_threads()) == {2}
    assert errors == []
    assert len(seen) == n_threads * rounds


def test_overlapping_threaded_fits_leave_the_process_as_it_was(two_blas_threads):
    """Real fits in several threads at once (the grid-search-with-threads case)."""
    from joblib import Parallel, delayed

    for _ in range(3):
        Parallel(n_jobs=4, backend="threading")(
            delayed(small_fit)(max_iter=3) for _ in range(8))
        assert set(blas_threads()) == {2}


def test_a_failing_fit_releases_the_limit(two_blas_threads):
    class Broken(RecordingTanh):
        def derivative(self, z, a):
            raise RuntimeError("broken derivative")

    with pytest.raises(RuntimeError, match="broken derivative"):
        small_fit(Broken())
    assert set(blas_threads()) == {2}


def test_joblibs_idle_executor_manager_does_not_count_as_a_bystander(two_blas_threads):
    """After a process-based parallel call, loky's manager thread lives on (non-daemon)
    but runs no numpy: small fits still take the limit."""
    from joblib import Parallel, delayed

    Parallel(n_jobs=2)(delayed(abs)(-k) for k in range(4))
    assert any(type(t).__name__ == "_ExecutorManagerThread" for t in threading.enumerate())
    sigma = RecordingTanh()
    small_fit(sigma)
    assert set(sigma.seen[0]) == {1}


def test_predict_and_score_run_small_work_on_one_blas_thread_and_restore_it(two_blas_threads):
    """A search scores between fits: predict's small products on a woken pool slow the
    next fit (benchmarks/search_threads.py), so prediction follows the fit's rule."""
    from sklearn.datasets import make_classification

    from skfnn import FNNClassifier

    X, y = make_classification(n_samples=60, n_features=4, random_state=0)
    sigma = RecordingTanh()
    clf = FNNClassifier((5,), activation=sigma, max_iter=2, random_state=0).fit(X, y)
    for call in (clf.predict, clf.predict_proba, clf.predict_log_proba,
                 lambda X: clf.score(X, y)):
        sigma.seen.clear()
        call(X)
        assert sigma.seen == [[1] * len(sigma.seen[0])], call
        assert set(blas_threads()) == {2}


def test_large_predictions_keep_the_users_setting(two_blas_threads):
    sigma = RecordingTanh()
    X = np.random.default_rng(0).standard_normal((40, 100))
    est = FNNRegressor((2048,), activation=sigma, max_iter=1, random_state=0).fit(X, X[:, 0])
    X_big = np.random.default_rng(1).standard_normal((2100, 100))
    assert X_big.shape[0] * 100 * 2048 >= MIN_WORK_PER_THREAD
    sigma.seen.clear()
    est.predict(X_big)
    assert set(sigma.seen[0]) == {2}


def test_the_limit_is_skipped_where_blas_already_has_one_thread():
    """Under an outer limit of one thread nothing is set (and nothing restored to 2)."""
    with threadpool_limits(limits=1, user_api="blas"):
        sigma = RecordingTanh()
        small_fit(sigma)
        assert set(sigma.seen[0]) == {1}
        assert set(blas_threads()) == {1}

"""Scaling out: the figures of docs/scaling.md, measured on this machine in one run.

Prints medians of several runs (and ratios) for

1. one hyperparameter search (GridSearchCV over a Pipeline with FNNClassifier):
   sequential (n_jobs=1), n_jobs=2 (joblib's default loky processes) and on a
   local Dask cluster (2 process workers × 1 thread, joblib's "dask" backend);
2. L-BFGS seconds per evaluation of (J, ∇J) and per iteration (the
   evaluations' time over n_iter_): in memory (with the default BLAS threads,
   and with one, as distributed's workers have), and on dask arrays persisted
   on 1 and on 2 workers (1 thread each), for a small and a large data set; the
   rest of a fit (validation, blocks on the workers, scipy) is shown apart;
3. out-of-core training: rows per second and peak traced memory (tracemalloc,
   the client process) of a partial_fit loop over the chunks of a numpy memmap,
   of dask-ml's Incremental over a chunked dask array (2 workers), and of an
   in-memory fit of one epoch for comparison.

Run from the repository root (needs the ``dask`` extra and dask-ml)::

    python benchmarks/dask_scaling.py              # the table in docs/scaling.md
    python benchmarks/dask_scaling.py --quick      # smaller data, 2 repeats

The machine is shared and noisy: read ratios within one run.
"""

import argparse
import contextlib
import gc
import os
import platform
import statistics
import tempfile
import time
import tracemalloc
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from skfnn import FNNClassifier, FNNRegressor

warnings.simplefilter("ignore", ConvergenceWarning)


def median_seconds(run, repeats):
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@contextlib.contextmanager
def dask_client(n_workers, threads_per_worker=1):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                      processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.run(lambda: __import__("skfnn"))  # workers import skfnn before timing
        yield client


# ----------------------------------------------------------------------
# 1. One search
# ----------------------------------------------------------------------
def search_times(n_samples, repeats):
    import joblib
    from sklearn.datasets import make_classification
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(n_samples=n_samples, n_features=20, n_informative=10,
                               n_classes=3, random_state=0)
    pipe = make_pipeline(StandardScaler(), FNNClassifier(max_iter=30, random_state=0))
    grid = {"fnnclassifier__alpha": [1e-4, 1e-2],
            "fnnclassifier__hidden_layer_sizes": [(32,), (64,)],
            "fnnclassifier__learning_rate_init": [1e-3, 1e-2]}

    def search(n_jobs):
        return lambda: GridSearchCV(pipe, grid, cv=3, n_jobs=n_jobs).fit(X, y)

    rows = {"sequential (n_jobs=1)": median_seconds(search(1), repeats),
            "n_jobs=2 (loky)": median_seconds(search(2), repeats)}
    with dask_client(2) as _, joblib.parallel_config(backend="dask"):
        rows["Dask, 2 workers × 1 thread"] = median_seconds(search(-1), repeats)
    return rows, f"{len(X)} × 20, 8 candidates × 3 folds, adam 30 epochs"


# ----------------------------------------------------------------------
# 2. L-BFGS per iteration
# ----------------------------------------------------------------------
def lbfgs_data(n_samples, n_features=50):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_samples, n_features))
    y = np.tanh(X @ rng.standard_normal(n_features) / np.sqrt(n_features))
    return X, y + 0.1 * rng.standard_normal(n_samples)


@contextlib.contextmanager
def timed_evaluations():
    """Record the seconds of every (J, ∇J) evaluation that L-BFGS asks for."""
    from skfnn._base import BaseFNN

    seconds, original = [], BaseFNN._run_lbfgs

    def run_lbfgs(self, fun, theta):
        def timed(x):
            start = time.perf_counter()
            value = fun(x)
            seconds.append(time.perf_counter() - start)
            return value
        return original(self, timed, theta)

    BaseFNN._run_lbfgs = run_lbfgs
    try:
        yield seconds
    finally:
        BaseFNN._run_lbfgs = original


def lbfgs_costs(X, y, repeats, iterations):
    """(s per evaluation, s per iteration, set-up s): medians over ``repeats`` fits.

    Set-up is what a fit spends outside its evaluations (validation, blocks on
    the workers, scipy's own steps).
    """
    evaluations, per_iteration, setup = [], [], []
    for _ in range(repeats):
        with timed_evaluations() as seconds:
            start = time.perf_counter()
            est = FNNRegressor((64,), solver="lbfgs", max_iter=iterations, tol=0.0,
                               random_state=0).fit(X, y)
            total = time.perf_counter() - start
        evaluations.extend(seconds)
        per_iteration.append(sum(seconds) / est.n_iter_)
        setup.append(total - sum(seconds))
    return (statistics.median(evaluations), statistics.median(per_iteration),
            statistics.median(setup))


def lbfgs_times(n_samples, repeats, iterations=10, block_rows=25_000):
    import dask.array as da

    X, y = lbfgs_data(n_samples)
    rows = {"in memory": lbfgs_costs(X, y, repeats, iterations)}
    with threadpool_limits(1, user_api="blas"):  # the workers' BLAS setting, for comparison
        rows["in memory, 1 BLAS thread"] = lbfgs_costs(X, y, repeats, iterations)
    for n_workers in (1, 2):
        with dask_client(n_workers) as client:
            per_block = min(block_rows, n_samples // (2 * n_workers))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "Sending large graph": once
                Xd = client.persist(da.from_array(X, chunks=(per_block, -1)))
                yd = client.persist(da.from_array(y, chunks=per_block))
            name = f"Dask, {n_workers} worker{'s' * (n_workers > 1)} × 1 thread"
            rows[name] = lbfgs_costs(Xd, yd, repeats, iterations)
    return rows, f"{n_samples} × 50, hidden (64,), {iterations} iterations"


# ----------------------------------------------------------------------
# 3. Out-of-core training
# ----------------------------------------------------------------------
def traced(run):
    """(seconds, peak traced bytes) of run()."""
    gc.collect()
    tracemalloc.start()
    start = time.perf_counter()
    try:
        run()
        return time.perf_counter() - start, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def out_of_core(n_samples, chunk, repeats, n_features=50):
    import dask.array as da
    from dask_ml.wrappers import Incremental

    classes = [0, 1, 2]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "X.npy")
        X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64,
                                      shape=(n_samples, n_features))
        rng = np.random.default_rng(0)
        for start in range(0, n_samples, chunk):
            X[start:start + chunk] = rng.standard_normal((min(chunk, n_samples - start),
                                                          n_features))
        X.flush()
        del X
        X = np.load(path, mmap_mode="r")
        y = np.argmax(X[:, :3], axis=1)

        def make():
            return FNNClassifier((64,), random_state=0)

        def memmap_loop():
            est = make()
            for start in range(0, n_samples, chunk):
                est.partial_fit(X[start:start + chunk], y[start:start + chunk],
                                classes=classes)

        def in_memory():
            make().set_params(max_iter=1).fit(np.array(X), y)  # the data loaded, one epoch

        results = {}
        for name, run in [("partial_fit loop over a memmap", memmap_loop),
                          ("fit in memory, one epoch", in_memory)]:
            runs = [traced(run) for _ in range(repeats)]
            results[name] = (statistics.median(t for t, _ in runs),
                             max(p for _, p in runs))
        with dask_client(2) as client:
            Xd = client.persist(da.from_array(np.asarray(X), chunks=(chunk, -1)))
            yd = client.persist(da.from_array(y, chunks=chunk))
            runs = [traced(lambda: Incremental(make(), shuffle_blocks=False)
                           .fit(Xd, yd, classes=classes)) for _ in range(repeats)]
            results["dask-ml Incremental, 2 workers"] = (
                statistics.median(t for t, _ in runs), None)
    data_mb = n_samples * n_features * 8 / 2**20
    chunk_mb = chunk * n_features * 8 / 2**20
    return results, (f"{n_samples} × {n_features} float64 ({data_mb:.0f} MiB), chunks of "
                     f"{chunk} rows ({chunk_mb:.1f} MiB), hidden (64,)"), n_samples


# ----------------------------------------------------------------------
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smaller data, 2 repeats")
    args = parser.parse_args(argv)
    repeats = 2 if args.quick else args.repeats
    scale = 0.1 if args.quick else 1.0
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"medians of {repeats} runs\n")

    rows, what = search_times(int(3000 * scale) or 300, repeats)
    print(f"## One search ({what})\n\n| run | seconds | × sequential |\n|---|---|---|")
    base = rows["sequential (n_jobs=1)"]
    for name, seconds in rows.items():
        print(f"| {name} | {seconds:.2f} | {base / seconds:.2f} |")

    for n in (20_000, 400_000):
        rows, what = lbfgs_times(int(n * scale), repeats)
        print(f"\n## L-BFGS ({what})\n\n| data on | s / evaluation | s / iteration | "
              "× in memory | set-up per fit (s) |\n|---|---|---|---|---|")
        base = rows["in memory"][1]
        for name, (per_eval, per_it, setup) in rows.items():
            print(f"| {name} | {per_eval:.4f} | {per_it:.4f} | {base / per_it:.2f} | "
                  f"{setup:.2f} |")

    results, what, n_rows = out_of_core(int(400_000 * scale), int(20_000 * scale), repeats)
    print(f"\n## Out-of-core training ({what})\n\n| run | rows / s | peak traced memory "
          "(MiB) |\n|---|---|---|")
    for name, (seconds, peak) in results.items():
        peak = "—" if peak is None else f"{peak / 2**20:.1f}"
        print(f"| {name} | {n_rows / seconds:,.0f} | {peak} |")


if __name__ == "__main__":
    main()

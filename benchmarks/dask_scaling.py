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

All configurations of a table are set up at once and their runs alternated,
so that the load of a shared machine falls on each alike.

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


def alternate(runs, repeats):
    """{name: [result of each repeat]}, the runs alternated so that load hits all alike."""
    results = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            gc.collect()
            results[name].append(run())
    return results


def seconds(run):
    def timed():
        start = time.perf_counter()
        run()
        return time.perf_counter() - start
    return timed


@contextlib.contextmanager
def dask_clients(*n_workers):
    """One client per entry, on a local cluster of that many process workers × 1 thread."""
    from distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        clients = []
        for n in n_workers:
            cluster = stack.enter_context(LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0"))
            client = stack.enter_context(Client(cluster, set_as_default=False))
            client.run(lambda: __import__("skfnn"))  # workers import skfnn before timing
            clients.append(client)
        yield clients


def on(client, run):
    """run() with ``client`` as the current one (where fits on dask arrays go)."""
    def in_client():
        with client.as_current():
            return run()
    return in_client


def workers_name(n):
    return f"Dask, {n} worker{'s' * (n > 1)} × 1 thread"


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

    def on_dask():
        with joblib.parallel_config(backend="dask"):
            search(-1)()

    with dask_clients(2) as (client,):
        runs = {"sequential (n_jobs=1)": seconds(search(1)),
                "n_jobs=2 (loky)": seconds(search(2)),
                workers_name(2): seconds(on(client, on_dask))}
        times = alternate(runs, repeats)
    rows = {name: statistics.median(t) for name, t in times.items()}
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
    from skfnn import _training

    seconds, original = [], _training.fit_lbfgs

    def fit_lbfgs(run, hooks, *, objective=None, **options):
        evaluate = objective or _training._in_memory_objective(run)

        def timed(x):
            start = time.perf_counter()
            value = evaluate(x)
            seconds.append(time.perf_counter() - start)
            return value
        return original(run, hooks, objective=timed, **options)

    _training.fit_lbfgs = fit_lbfgs
    try:
        yield seconds
    finally:
        _training.fit_lbfgs = original


def lbfgs_fit(X, y, iterations):
    """A run: one fit; returns (its evaluations' seconds, n_iter_, the rest of the fit)."""
    def run():
        with timed_evaluations() as evaluations:
            start = time.perf_counter()
            est = FNNRegressor((64,), solver="lbfgs", max_iter=iterations, tol=0.0,
                               random_state=0).fit(X, y)
            total = time.perf_counter() - start
        return evaluations, est.n_iter_, total - sum(evaluations)
    return run


def one_blas_thread(run):
    def limited():
        with threadpool_limits(1, user_api="blas"):
            return run()
    return limited


def lbfgs_times(n_samples, repeats, iterations=10, block_rows=25_000):
    """{name: (s per evaluation, s per iteration, set-up s)}: medians over the runs.

    Set-up is what a fit spends outside its evaluations (validation, blocks on
    the workers, scipy's own steps).
    """
    import dask.array as da

    X, y = lbfgs_data(n_samples)
    with dask_clients(1, 2) as clients:
        runs = {"in memory": lbfgs_fit(X, y, iterations),
                # the workers' BLAS setting (distributed's default), for comparison
                "in memory, 1 BLAS thread": one_blas_thread(lbfgs_fit(X, y, iterations))}
        for client, n in zip(clients, (1, 2), strict=True):
            rows = min(block_rows, n_samples // (2 * n))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "Sending large graph": once
                Xd = client.persist(da.from_array(X, chunks=(rows, -1)))
                yd = client.persist(da.from_array(y, chunks=rows))
            runs[workers_name(n)] = on(client, lbfgs_fit(Xd, yd, iterations))
        results = alternate(runs, repeats)
    table = {}
    for name, fits in results.items():
        table[name] = (statistics.median(t for evaluations, _, _ in fits for t in evaluations),
                       statistics.median(sum(e) / n_iter for e, n_iter, _ in fits),
                       statistics.median(setup for _, _, setup in fits))
    return table, f"{n_samples} × 50, hidden (64,), {iterations} iterations"


# ----------------------------------------------------------------------
# 3. Out-of-core training
# ----------------------------------------------------------------------
def traced(run):
    """A run returning (seconds, peak traced bytes) of run()."""
    def measured():
        tracemalloc.start()
        start = time.perf_counter()
        try:
            run()
            return time.perf_counter() - start, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    return measured


def write_memmap(path, n_samples, n_features, chunk):
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64,
                                  shape=(n_samples, n_features))
    rng = np.random.default_rng(0)
    for start in range(0, n_samples, chunk):
        X[start:start + chunk] = rng.standard_normal((min(chunk, n_samples - start),
                                                      n_features))
    X.flush()
    return np.load(path, mmap_mode="r")


def out_of_core(n_samples, chunk, repeats, n_features=50):
    import dask.array as da
    import distributed
    from dask_ml.wrappers import Incremental

    classes = [0, 1, 2]

    def make():
        return FNNClassifier((64,), random_state=0)

    with tempfile.TemporaryDirectory() as tmp, dask_clients(2) as (client,):
        X = write_memmap(os.path.join(tmp, "X.npy"), n_samples, n_features, chunk)
        y = np.argmax(X[:, :3], axis=1)

        def memmap_loop():
            est = make()
            for start in range(0, n_samples, chunk):
                est.partial_fit(X[start:start + chunk], y[start:start + chunk],
                                classes=classes)

        def in_memory():
            make().set_params(max_iter=1).fit(np.array(X), y)  # the data loaded, one epoch

        with warnings.catch_warnings(), client.as_current():
            warnings.simplefilter("ignore", UserWarning)  # "Sending large graph": once
            Xd = client.persist(da.from_array(np.asarray(X), chunks=(chunk, -1)))
            yd = client.persist(da.from_array(y, chunks=chunk))
            distributed.wait([Xd, yd])  # the upload's buffers are not the loops' memory

        def incremental():
            Incremental(make(), shuffle_blocks=False).fit(Xd, yd, classes=classes)

        runs = {"partial_fit loop over a memmap": traced(memmap_loop),
                "fit in memory, one epoch": traced(in_memory),
                "dask-ml Incremental, 2 workers": traced(on(client, incremental))}
        results = alternate(runs, repeats)
    table = {name: (statistics.median(t for t, _ in runs), max(p for _, p in runs))
             for name, runs in results.items()}
    table["dask-ml Incremental, 2 workers"] = (table["dask-ml Incremental, 2 workers"][0], None)
    data_mb = n_samples * n_features * 8 / 2**20
    chunk_mb = chunk * n_features * 8 / 2**20
    return table, (f"{n_samples} × {n_features} float64 ({data_mb:.0f} MiB), chunks of "
                   f"{chunk} rows ({chunk_mb:.1f} MiB), hidden (64,)"), n_samples


# ----------------------------------------------------------------------
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smaller data, 2 repeats")
    parser.add_argument("--tables", nargs="+", choices=["search", "lbfgs", "out-of-core"],
                        default=["search", "lbfgs", "out-of-core"])
    args = parser.parse_args(argv)
    repeats = 2 if args.quick else args.repeats
    scale = 0.1 if args.quick else 1.0
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"medians of {repeats} runs; load average at the start "
          f"{os.getloadavg()[0]:.1f}\n")

    if "search" in args.tables:
        print_search(*search_times(int(3000 * scale) or 300, repeats))
    for n in (20_000, 400_000) if "lbfgs" in args.tables else ():
        print_lbfgs(*lbfgs_times(int(n * scale), repeats))
    if "out-of-core" in args.tables:
        print_out_of_core(*out_of_core(int(400_000 * scale), int(20_000 * scale), repeats))
    print(f"\nLoad average at the end: {os.getloadavg()[0]:.1f}")


def print_search(rows, what):
    print(f"## One search ({what})\n\n| run | seconds | × sequential |\n|---|---|---|")
    base = rows["sequential (n_jobs=1)"]
    for name, seconds in rows.items():
        print(f"| {name} | {seconds:.2f} | {base / seconds:.2f} |")


def print_lbfgs(rows, what):
    print(f"\n## L-BFGS ({what})\n\n| data on | s / evaluation | s / iteration | "
          "× in memory | set-up per fit (s) |\n|---|---|---|---|---|")
    base = rows["in memory"][1]
    for name, (per_eval, per_it, setup) in rows.items():
        print(f"| {name} | {per_eval:.4f} | {per_it:.4f} | {base / per_it:.2f} | "
              f"{setup:.2f} |")


def print_out_of_core(results, what, n_rows):
    print(f"\n## Out-of-core training ({what})\n\n| run | rows / s | peak traced memory "
          "(MiB) |\n|---|---|---|")
    for name, (seconds, peak) in results.items():
        peak = "—" if peak is None else f"{peak / 2**20:.1f}"
        print(f"| {name} | {n_rows / seconds:,.0f} | {peak} |")


if __name__ == "__main__":
    main()

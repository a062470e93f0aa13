"""GridSearchCV against StackedGridSearchCV on the same grid, in one run.

The grid: 4 seeds × 3 α × 2 initial learning rates = 24 candidates, cv=3 (72
fits), every fit running all its epochs (``tol=0``, ``n_iter_no_change``
large), ``n_jobs=1``, on one BLAS thread (threadpoolctl) for both. Two workloads:

- ``overhead``: a regressor 20 → 32 → 1 on 2000 rows, batch 16, adam: small
  products, the time of a step is numpy's fixed per-call cost, which stacking
  shares among the members of a group;
- ``digits``: a classifier 64 → 100 → 10 on the digits (1797 rows), batch 200,
  adam.

For each workload the two searches run alternately ``--repeats`` times; the
median CPU seconds of the process (``time.process_time``: less sensitive to
other processes on a shared machine than wall time) are printed with the ratio
GridSearchCV / StackedGridSearchCV, after checking that the two ``cv_results_``
agree on every key but the times (bit for bit).

Run from the repository root::

    python benchmarks/search.py
    python benchmarks/search.py --repeats 5 --workloads overhead
"""

import argparse
import gc
import platform
import statistics
import time
import warnings
from dataclasses import dataclass

import numpy as np
import scipy
import sklearn
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from threadpoolctl import threadpool_info, threadpool_limits

import skfnn
from skfnn import FNNClassifier, FNNRegressor, StackedGridSearchCV

GRID = {"random_state": [0, 1, 2, 3], "alpha": [1e-5, 1e-4, 1e-3],
        "learning_rate_init": [1e-3, 3e-3]}


@dataclass
class Workload:
    name: str
    classifier: bool
    params: dict
    notes: str

    def data(self):
        if self.classifier:
            X, y = load_digits(return_X_y=True)
            return X / 16, y
        rng = np.random.default_rng(0)
        X = rng.standard_normal((2000, 20))
        y = np.tanh(X @ rng.standard_normal(20) / np.sqrt(20)) + 0.1 * rng.standard_normal(2000)
        return X, y

    def estimator(self, max_iter):
        params = dict(solver="adam", tol=0.0, n_iter_no_change=10**9, max_iter=max_iter,
                      **self.params)
        return FNNClassifier(**params) if self.classifier else FNNRegressor(**params)


WORKLOADS = [
    Workload("overhead", False, dict(hidden_layer_sizes=(32,), batch_size=16),
             "20 -> 32 -> 1 regressor, 2000 rows, batch 16"),
    Workload("digits", True, dict(hidden_layer_sizes=(100,), batch_size=200),
             "64 -> 100 -> 10 classifier, digits, batch 200"),
]


def timed_search(search_class, est, X, y):
    """(CPU seconds, cv_results_) of one search, on one BLAS thread."""
    gc.collect()
    with threadpool_limits(limits=1, user_api="blas"):
        start = time.process_time()
        search = search_class(est, GRID, cv=3, n_jobs=1).fit(X, y)
        return time.process_time() - start, search.cv_results_


def assert_same_results(got, expected):
    """Every key of ``cv_results_`` equal, bit for bit, but the measured times."""
    assert list(got) == list(expected), "different keys"
    for key, value in expected.items():
        if key.endswith("_time"):
            continue
        if key == "params":
            assert got[key] == value, key
        elif isinstance(value, np.ma.MaskedArray):
            mask = np.ma.getmaskarray(value)
            np.testing.assert_array_equal(np.ma.getmaskarray(got[key]), mask, err_msg=key)
            np.testing.assert_array_equal(got[key].data[~mask], value.data[~mask], err_msg=key)
        else:
            np.testing.assert_array_equal(got[key], value, err_msg=key)


def run(workload, repeats, max_iter):
    """The median CPU seconds of GridSearchCV and StackedGridSearchCV on ``workload``."""
    X, y = workload.data()
    est = workload.estimator(max_iter)
    searches = (GridSearchCV, StackedGridSearchCV)
    times = {search: [] for search in searches}
    results = {}
    for r in range(repeats):
        # Alternate the order, so that neither search always runs on a warmer machine.
        for search in (searches if r % 2 == 0 else searches[::-1]):
            seconds, results[search] = timed_search(search, est, X, y)
            times[search].append(seconds)
    assert_same_results(results[StackedGridSearchCV], results[GridSearchCV])
    return [statistics.median(times[search]) for search in searches]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-iter", type=int, default=20)
    parser.add_argument("--workloads", nargs="*", default=[w.name for w in WORKLOADS],
                        choices=[w.name for w in WORKLOADS])
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)
    blas = ", ".join(f"{i['internal_api']} {i['version']}" for i in threadpool_info()
                     if i["user_api"] == "blas")
    print(f"python {platform.python_version()}, numpy {np.__version__}, scipy "
          f"{scipy.__version__}, scikit-learn {sklearn.__version__}, skfnn {skfnn.__version__}")
    print(f"{platform.machine()}, BLAS: {blas}, limited to 1 thread")
    n_candidates = np.prod([len(values) for values in GRID.values()])
    print(f"{n_candidates} candidates x 3 folds, max_iter={args.max_iter}, n_jobs=1; CPU "
          f"seconds, median of {args.repeats} alternating runs; ratio = GridSearchCV / "
          "StackedGridSearchCV; cv_results_ checked equal (all but the times)\n")
    header = f"{'workload':<10} {'GridSearchCV s':>15} {'Stacked s':>10} {'ratio':>6}  notes"
    print(header)
    print("-" * len(header))
    for workload in (w for w in WORKLOADS if w.name in args.workloads):
        plain, stacked = run(workload, args.repeats, args.max_iter)
        print(f"{workload.name:<10} {plain:>15.2f} {stacked:>10.2f} {plain / stacked:>6.2f}  "
              f"{workload.notes}", flush=True)


if __name__ == "__main__":
    main()

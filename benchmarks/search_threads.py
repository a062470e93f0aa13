"""A grid search with the default BLAS threads against the same search on one thread.

Each small fit already runs on one BLAS thread (``skfnn/_threads.py``), but a
search also scores between fits: if those small ``predict`` products ran on
the default pool, its woken workers would spin against the next fit, and the
search would be slower with the default threads than under an outer
``threadpool_limits(1)``. Prediction therefore follows the fit's rule; this
script checks that the two settings now take the same time, within noise.

The search: ``GridSearchCV`` of 12 configurations × 3 folds of ``FNNClassifier``
on digits, ``n_jobs=1``. The two settings take turns for ``--repeats`` rounds;
the medians of wall-clock and process CPU time are printed with the ratio
default / one thread (1.0: threads cost nothing; above 1: they slow the search),
and the CPU time of the threads other than the search's own (BLAS's workers,
computing or spinning), which does not depend on the machine's load: near 0
when every product of the search runs on one thread.
On a shared machine the ratio moves by some 10 % from run to run: compare the
medians, not single rounds.

Run from the repository root::

    python benchmarks/search_threads.py
    python benchmarks/search_threads.py --repeats 7 --max-iter 20
"""

import argparse
import statistics
import time
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from threadpoolctl import threadpool_info, threadpool_limits

from skfnn import FNNClassifier

GRID = {"hidden_layer_sizes": [(32,), (64,), (100,)], "alpha": [1e-4, 1e-3],
        "learning_rate_init": [1e-3, 1e-2]}


def timed_search(X, y, max_iter):
    """(wall, process CPU, CPU of the other threads) seconds of one search.

    The search runs in this thread (n_jobs=1): CPU spent by other threads is
    BLAS's workers, computing or spinning.
    """
    search = GridSearchCV(FNNClassifier(max_iter=max_iter, random_state=0), GRID, cv=3,
                          n_jobs=1)
    wall, cpu, own = time.perf_counter(), time.process_time(), time.thread_time()
    search.fit(X, y)
    cpu, own = time.process_time() - cpu, time.thread_time() - own
    return time.perf_counter() - wall, cpu, cpu - own


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-iter", type=int, default=30)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = load_digits(return_X_y=True)
    X = X / 16
    threads = sorted({p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"})
    times = {"default": [], "one": []}
    timed_search(X, y, 2)  # warm-up: imports, the BLAS pool
    for _ in range(args.repeats):
        times["default"].append(timed_search(X, y, args.max_iter))
        with threadpool_limits(limits=1, user_api="blas"):
            times["one"].append(timed_search(X, y, args.max_iter))
    print(f"GridSearchCV, {len(GRID['alpha']) * len(GRID['hidden_layer_sizes']) * 2} "
          f"configurations x 3 folds, digits, max_iter={args.max_iter}; "
          f"medians of {args.repeats} alternating rounds")
    print(f"{'BLAS threads':<24}{'wall s':>8}{'cpu s':>8}{'BLAS workers cpu s':>20}")
    medians = {}
    for name, label in (("default", f"default ({', '.join(map(str, threads))})"),
                        ("one", "threadpool_limits(1)")):
        medians[name] = [statistics.median(t[i] for t in times[name]) for i in (0, 1, 2)]
        wall, cpu, workers = medians[name]
        print(f"{label:<24}{wall:>8.2f}{cpu:>8.2f}{workers:>20.2f}")
    print(f"ratio default / one thread: wall {medians['default'][0] / medians['one'][0]:.2f}, "
          f"cpu {medians['default'][1] / medians['one'][1]:.2f}")


if __name__ == "__main__":
    main()

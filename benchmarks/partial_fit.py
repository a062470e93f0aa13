"""The cost of one partial_fit call on small chunks: skfnn against scikit-learn's MLP.

Out-of-core and streaming training (docs/scaling.md) call ``partial_fit`` once per
chunk; on small chunks its fixed cost (validating X and y, encoding the labels,
setting the fit up) is most of the time. For each chunk size, both estimators
(identical parameters, one BLAS thread each, so that the comparison is the
per-call work) are warmed up on ``--history`` calls (a model that has trained
on many chunks already: what a call costs must not grow with their number), then
``partial_fit`` is timed on the next chunks; this is repeated ``--rounds`` times, the two
estimators taking
turns, and the median over rounds of the median time per call is printed with
the ratio scikit-learn / skfnn (above 1: skfnn is faster).

Run from the repository root::

    python benchmarks/partial_fit.py
    python benchmarks/partial_fit.py --calls 50 --chunks 100 1000
    python benchmarks/partial_fit.py --history 2000 --chunks 10
"""

import argparse
import statistics
import time
import warnings

from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from threadpoolctl import threadpool_limits

from skfnn import FNNClassifier, FNNRegressor


def per_call_seconds(est, X, y, chunk, calls, history, **first):
    """Median seconds of ``calls`` partial_fit calls on successive chunks of ``chunk`` rows,
    after ``history`` untimed calls."""
    est.partial_fit(X[:chunk], y[:chunk], **first)
    times = []
    for i in range(history + calls):
        first_row = (i + 1) * chunk % (len(X) - chunk)
        Xc, yc = X[first_row:first_row + chunk], y[first_row:first_row + chunk]
        start = time.perf_counter()
        est.partial_fit(Xc, yc)
        times.append(time.perf_counter() - start)
    return statistics.median(times[history:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--history", type=int, default=0,
                        help="untimed calls before the timed ones (e.g. 2000)")
    parser.add_argument("--chunks", type=int, nargs="*", default=[10, 100, 1000])
    args = parser.parse_args()
    Xc, yc = make_classification(20_000, 50, n_informative=10, n_classes=3, random_state=0)
    Xr, yr = make_regression(20_000, 50, noise=1.0, random_state=0)
    tasks = [("classifier", FNNClassifier, MLPClassifier, Xc, yc, {"classes": [0, 1, 2]}),
             ("regressor", FNNRegressor, MLPRegressor, Xr, yr / yr.std(), {})]
    print(f"median over {args.rounds} rounds of the median of {args.calls} partial_fit calls "
          f"after {args.history}; hidden (64,), adam, one BLAS thread; ratio = sklearn / skfnn")
    print(f"{'task':<11} {'chunk':>6} {'sklearn ms':>11} {'skfnn ms':>9} {'ratio':>6}")
    warnings.simplefilter("ignore", ConvergenceWarning)
    with threadpool_limits(1):
        for name, ours, theirs, X, y, first in tasks:
            for chunk in args.chunks:
                rounds = [[per_call_seconds(cls(hidden_layer_sizes=(64,), random_state=0), X, y,
                                            chunk, args.calls, args.history, **first)
                           for cls in (theirs, ours)]
                          for _ in range(args.rounds)]
                sk, fnn = (statistics.median(times) for times in zip(*rounds, strict=True))
                print(f"{name:<11} {chunk:>6} {sk * 1e3:>11.2f} {fnn * 1e3:>9.2f} "
                      f"{sk / fnn:>6.2f}", flush=True)


if __name__ == "__main__":
    main()

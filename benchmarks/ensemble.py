"""Deep ensembles trained as one stack against K separate fits, in one run.

For K = 1, 4, 8, 16 members and each workload of benchmarks/speed.py that a
stochastic solver trains, times ``FNNEnsembleClassifier`` / ``FNNEnsembleRegressor``
(the members trained as one (K, P) stack, skfnn/_stack.py) against K separate
``fit`` calls of the same members, alternating, and prints CPU seconds per member
(``time.process_time``, all work on one BLAS thread, median of the repeats) and
the ratio separate / stacked. Every run also checks that the ensemble's members
equal the separate fits bit for bit.

A last table answers whether stacking L-BFGS would pay: scipy's L-BFGS-B runs
one model at a time, so the most a stack could save is the difference between
one stacked (J, ∇J) evaluation of K models and K separate ones on the full batch;
this is timed on speed.py's L-BFGS workload.

Run from the repository root::

    python benchmarks/ensemble.py                  # overhead, small, tanh-reg; K = 1, 4, 8, 16
    python benchmarks/ensemble.py --workloads wide large-sgd --members 4 8 --repeats 1
    python benchmarks/ensemble.py --workloads overhead --members 8 --repeats 5
"""

import argparse
import platform
import statistics
import time
import warnings

import numpy as np
import sklearn
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from speed import WORKLOADS  # benchmarks/speed.py: the script's directory is on sys.path
from threadpoolctl import threadpool_limits

import skfnn
from skfnn import _engine, _fitting, _stack
from skfnn.ensemble import FNNEnsembleClassifier, FNNEnsembleRegressor

STOCHASTIC = [w.name for w in WORKLOADS if w.params["solver"] != "lbfgs" and not w.predict_rows]


def ensemble_for(workload, K):
    """The ensemble of K members of the workload's estimator (all epochs run)."""
    member, _ = workload.estimators()
    kind = FNNEnsembleClassifier if workload.classifier else FNNEnsembleRegressor
    return kind(member, n_estimators=K, random_state=0)


def time_once(workload, K, X, y):
    """(separate seconds, stacked seconds) of one alternating round, members compared."""
    ensemble = ensemble_for(workload, K)
    start = time.process_time()
    ensemble.fit(X, y)
    stacked = time.process_time() - start
    members = [clone(ensemble.estimator).set_params(random_state=int(seed))
               for seed in ensemble.member_seeds_]
    start = time.process_time()
    for member in members:
        member.fit(X, y)
    separate = time.process_time() - start
    for fitted, own in zip(ensemble.estimators_, members, strict=True):
        for a, b in zip(fitted.coefs_ + fitted.intercepts_, own.coefs_ + own.intercepts_,
                        strict=True):
            if not np.array_equal(a, b):
                raise AssertionError("a stacked member differs from its own fit")
    return separate, stacked


def lbfgs_evaluations(K, repeats):
    """Seconds of K separate full-batch (J, ∇J) evaluations and of one stacked one."""
    workload = next(w for w in WORKLOADS if w.name == "lbfgs")
    X, y = workload.data(np.float64, np.random.default_rng(0))
    est, _ = workload.estimators()
    group = [clone(est).set_params(solver="adam", random_state=k, max_iter=1)
             for k in range(K)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        runs = [_fitting.prepared(m, X, y, None)[0] for m in group]
    stack = _stack.Stack(runs, X.shape[0])
    data = _stack._gather(runs, np.broadcast_to(np.arange(X.shape[0]), (K, X.shape[0])),
                          np.float64, True)
    singles = [(run.net, run.theta, np.empty_like(run.theta),
                _engine.Workspace(run.net, X.shape[0], np.float64)) for run in runs]
    Y = runs[0].Y.astype(np.float64)
    separate, stacked = [], []
    for _ in range(repeats):
        start = time.process_time()
        for net, theta, grad, ws in singles:
            _engine.loss_and_gradient(net, theta, X, Y, None, grad, ws)
        separate.append(time.process_time() - start)
        start = time.process_time()
        _stack.loss_and_gradients(stack.nets, stack.Theta, data, stack.Grad, stack.workspace)
        stacked.append(time.process_time() - start)
    return statistics.median(separate), statistics.median(stacked)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="*", default=["overhead", "small", "tanh-reg"],
                        choices=STOCHASTIC)
    parser.add_argument("--members", nargs="*", type=int, default=[1, 4, 8, 16])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"python {platform.python_version()}, numpy {np.__version__}, scikit-learn "
          f"{sklearn.__version__}, skfnn {skfnn.__version__}; {platform.processor() or '?'}")
    print(f"CPU seconds per member, one BLAS thread, median of {args.repeats} alternating "
          "runs; ratio = separate / stacked; every stacked member equal to its own fit")
    print(f"{'workload':<10}{'K':>4}{'separate s':>12}{'stacked s':>11}{'ratio':>8}")
    warnings.simplefilter("ignore", ConvergenceWarning)
    with threadpool_limits(1):
        for name in args.workloads:
            workload = next(w for w in WORKLOADS if w.name == name)
            X, y = workload.data(np.float64, np.random.default_rng(0))
            for K in args.members:
                rounds = [time_once(workload, K, X, y) for _ in range(args.repeats)]
                separate = statistics.median(r[0] for r in rounds) / K
                stacked = statistics.median(r[1] for r in rounds) / K
                print(f"{name:<10}{K:>4}{separate:>12.4f}{stacked:>11.4f}"
                      f"{separate / stacked:>8.2f}")
        print("\nL-BFGS: one full-batch (J, ∇J) of K models (speed.py's lbfgs workload)")
        print(f"{'K':>4}{'separate ms':>13}{'stacked ms':>12}{'ratio':>8}")
        for K in (4, 8):
            separate, stacked = lbfgs_evaluations(K, max(5, args.repeats))
            print(f"{K:>4}{separate * 1e3:>13.2f}{stacked * 1e3:>12.2f}"
                  f"{separate / stacked:>8.2f}")


if __name__ == "__main__":
    main()

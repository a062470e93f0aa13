"""What skfnn's optional training features cost, against the default fit, in one run.

For each workload, fits the default estimator and the same estimator with one
feature switched on, alternately, several times, and prints the median fit
times and the ratio feature / default:

- ``dropout``: ``dropout=0.5`` on every hidden layer (the masks: one uniform
  draw per row and unit, and a multiply forward and backward);
- ``callback``: a callback that listens to every epoch and asks for nothing;
- ``scoring-monitor``: scikit-learn's ``ScoringMonitor`` scoring accuracy (or R²)
  on the training data after every epoch (a predict per epoch: its cost is the
  predict, not the bridge);
- ``validation``: ``fit(..., X_val=, y_val=)`` with a validation set of a tenth
  of the rows, scored after every epoch;
- ``adamw``, ``rmsprop``: the other optimizers against the default Adam;
- ``cosine``, ``warmup``: ``learning_rate="cosine"``, ``warmup_epochs=5`` (a rate
  per epoch: nothing per step);
- ``clip_norm``: ``clip_norm=1.0`` (one norm of ∇J per step).

And, as a check that the default path pays nothing for them: the default
estimator against itself (the ratio is the noise of the machine).

Run from the repository root::

    python benchmarks/features.py
    python benchmarks/features.py --repeats 7 --workloads small
"""

import argparse
import statistics
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skfnn import FNNClassifier, FNNRegressor

WORKLOADS = {
    "small": (1500, 64, 10, True, dict(hidden_layer_sizes=(100,), batch_size=200, max_iter=40)),
    "tanh-reg": (5000, 40, 1, False, dict(hidden_layer_sizes=(64, 64), activation="tanh",
                                          batch_size=100, max_iter=10)),
    "wide": (20000, 100, 10, True, dict(hidden_layer_sizes=(256, 128), batch_size=256,
                                        max_iter=2)),
}


class Listener:
    """A callback that is called at every task and does nothing."""

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context):
        return False


def data(n, d, k, classifier, rng):
    X = rng.standard_normal((n, d))
    if classifier:
        return X, rng.integers(0, k, n)
    return X, np.tanh(X @ rng.standard_normal(d) / np.sqrt(d)) + 0.1 * rng.standard_normal(n)


def variants(classifier, params):
    """(name, make estimator, fit keywords builder) of the default and each feature."""
    Estimator = FNNClassifier if classifier else FNNRegressor
    common = dict(tol=0.0, n_iter_no_change=10**9, random_state=0, **params)

    def plain(**extra):
        return lambda: Estimator(**common, **extra)

    def with_callbacks(*make):
        return lambda: Estimator(**common).set_callbacks(*(m() for m in make))

    def monitor():
        from sklearn.callback import ScoringMonitor

        return ScoringMonitor(scoring="accuracy" if classifier else "r2")

    return [
        ("default (again)", plain(), None),
        ("dropout", plain(dropout=0.5), None),
        ("callback", with_callbacks(Listener), None),
        ("scoring-monitor", with_callbacks(monitor), None),
        ("validation", plain(), "validation"),
        ("adamw", plain(solver="adamw"), None),
        ("rmsprop", plain(solver="rmsprop"), None),
        ("cosine", plain(learning_rate="cosine"), None),
        ("warmup", plain(warmup_epochs=5), None),
        ("clip_norm", plain(clip_norm=1.0), None),
    ]


def timed(make, X, y, fit_kw):
    est = make()
    start = time.process_time()  # CPU time: less sensitive to a shared machine's load
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y, **fit_kw)
    return time.process_time() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS),
                        choices=list(WORKLOADS))
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"CPU seconds, medians of {args.repeats} alternating fits; ratio = feature / "
          "default\n")
    print(f"{'workload':<10} {'feature':<17} {'default s':>10} {'feature s':>10} {'ratio':>7}")
    for name in args.workloads:
        n, d, k, classifier, params = WORKLOADS[name]
        X, y = data(n, d, k, classifier, rng)
        n_val = n // 10
        fit_kws = {None: {}, "validation": dict(X_val=X[:n_val], y_val=y[:n_val])}
        default = variants(classifier, params)[0][1]
        timed(default, X, y, {})  # warm-up: BLAS pools, imports
        for feature, make, kw in variants(classifier, params):
            base, feat = [], []
            for _ in range(args.repeats):
                base.append(timed(default, X, y, {}))
                feat.append(timed(make, X, y, fit_kws[kw]))
            b, f = statistics.median(base), statistics.median(feat)
            print(f"{name:<10} {feature:<17} {b:>10.3f} {f:>10.3f} {f / b:>7.2f}")


if __name__ == "__main__":
    main()

"""Training and prediction speed of skfnn against scikit-learn's MLP, in one run.

For every workload, fits skfnn and scikit-learn alternately with identical
parameters (all epochs run: ``tol=0``, ``n_iter_no_change`` large), repeats
each several times, and prints the median fit times, the ratio
scikit-learn / skfnn and the matrix-product floor: the time the workload's own
GEMMs (forward, backward and weight-gradient products of every minibatch) take
in numpy on this machine, measured in the same run. skfnn's time is shown as a
multiple of that floor. A second table gives the peak memory (tracemalloc) of
fit and predict.

Run from the repository root::

    python benchmarks/speed.py            # all workloads, float64 and float32
    python benchmarks/speed.py --repeats 3 --workloads small overhead

The machine is shared and noisy: read the ratios (same run, alternating
order), not the absolute times. ``--cpu-time`` times CPU seconds of the whole
process (``time.process_time``) instead of wall time: less sensitive to other
processes on a shared machine, and, with ``ratio 1t`` (both libraries on one
BLAS thread), a comparison of the work alone::

    python benchmarks/speed.py --cpu-time --no-memory
"""

import argparse
import gc
import platform
import statistics
import time
import tracemalloc
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from threadpoolctl import threadpool_info, threadpool_limits

_clock = time.perf_counter  # time.process_time under --cpu-time

import skfnn  # noqa: E402 - after the clock's definition, which the imports may not need
from skfnn import FNNClassifier, FNNRegressor  # noqa: E402


@dataclass
class Workload:
    name: str
    n_samples: int
    n_features: int
    n_outputs: int  # classes for a classifier, targets for a regressor
    classifier: bool
    params: dict
    predict_rows: int = 0  # > 0: a predict-throughput workload
    notes: str = ""
    extra: dict = field(default_factory=dict)

    def data(self, dtype, rng):
        X = rng.standard_normal((self.n_samples, self.n_features)).astype(dtype)
        if self.classifier:
            y = rng.integers(0, self.n_outputs, self.n_samples)
        else:
            W = rng.standard_normal((self.n_features, self.n_outputs)) / np.sqrt(self.n_features)
            y = np.tanh(X @ W) + 0.1 * rng.standard_normal((self.n_samples, self.n_outputs))
            y = y.ravel() if self.n_outputs == 1 else y
        return X, y

    def estimators(self):
        """(skfnn's estimator, scikit-learn's), with identical parameters."""
        common = dict(tol=0.0, n_iter_no_change=10**9, random_state=0, **self.params)
        if self.classifier:
            return FNNClassifier(**common), MLPClassifier(**common)
        return FNNRegressor(**common), MLPRegressor(**common)


WORKLOADS = [
    Workload("small", 1500, 64, 10, True,
             dict(hidden_layer_sizes=(100,), solver="adam", batch_size=200, max_iter=40),
             notes="digits-sized classifier, adam"),
    Workload("overhead", 5000, 20, 2, True,
             dict(hidden_layer_sizes=(32,), solver="adam", batch_size=16, max_iter=4),
             notes="tiny batches: Python overhead per minibatch"),
    Workload("tanh-reg", 5000, 40, 1, False,
             dict(hidden_layer_sizes=(64, 64), activation="tanh", solver="adam",
                  batch_size=100, max_iter=10),
             notes="two-layer tanh regressor"),
    Workload("wide", 20000, 100, 10, True,
             dict(hidden_layer_sizes=(256, 128), solver="adam", batch_size=256, max_iter=2),
             notes="wide classifier"),
    Workload("large-sgd", 50000, 200, 1, False,
             dict(hidden_layer_sizes=(512, 512), solver="sgd", learning_rate_init=1e-3,
                  batch_size=512, max_iter=1),
             notes="large sgd regressor (GEMM-bound)"),
    Workload("lbfgs", 2000, 10, 1, False,
             dict(hidden_layer_sizes=(50,), solver="lbfgs", max_iter=200),
             notes="lbfgs (scipy and numpy BLAS pools alternate)"),
    Workload("predict-1M", 20000, 50, 10, True,
             dict(hidden_layer_sizes=(100,), solver="adam", batch_size=200, max_iter=1),
             predict_rows=1_000_000, notes="predict_proba on 1,000,000 rows"),
]


def _layer_units(w):
    n_out = 1 if (w.classifier and w.n_outputs == 2) else w.n_outputs
    return [w.n_features, *w.params["hidden_layer_sizes"], n_out]


def gemm_floor(w, dtype, rng, n_epochs, xp=np, put=None, sync=None):
    """Seconds that the workload's matrix products take in plain numpy.

    Or in ``xp`` (PyTorch: benchmarks/gpu.py), on arrays that ``put`` moves to its
    device, with ``sync`` waiting for the device to finish.
    """
    put, sync = put or (lambda a: a), sync or (lambda: None)
    units = _layer_units(w)
    batch = min(w.params.get("batch_size", w.n_samples), w.n_samples)
    if w.params["solver"] == "lbfgs":
        batch = w.n_samples
    n_batches = -(-w.n_samples // batch)
    Ws = [put(rng.standard_normal((a, b)).astype(dtype))
          for a, b in zip(units[:-1], units[1:], strict=True)]
    As = [put(rng.standard_normal((batch, n)).astype(dtype)) for n in units]
    Gs = [xp.empty_like(W) for W in Ws]
    Ds = [xp.empty_like(A) for A in As]
    sync()
    start = _clock()
    for _ in range(n_epochs * n_batches):
        for l, W in enumerate(Ws):  # forward: Z^l = A^{l-1} W^l
            xp.matmul(As[l], W, out=As[l + 1])
        for l in range(len(Ws) - 1, -1, -1):  # backward: (A^{l-1})ᵀ Δ^l and Δ^l (W^l)ᵀ
            xp.matmul(As[l].T, As[l + 1], out=Gs[l])
            if l > 0:
                xp.matmul(As[l + 1], Ws[l].T, out=Ds[l])
    sync()
    return _clock() - start


def best_gemm_floor(w, dtype, rng, n_epochs, repeats=3):
    """The median GEMM time with the default BLAS threads or with one, whichever is less."""
    times = []
    for limit in (None, 1):
        with threadpool_limits(limits=limit, user_api="blas"):
            times.append(statistics.median(gemm_floor(w, dtype, rng, n_epochs)
                                           for _ in range(repeats)))
    return min(times)


def timed_fit(est, X, y):
    gc.collect()
    start = _clock()
    est.fit(X, y)
    return _clock() - start, est


def timed_predict(est, X):
    gc.collect()
    start = _clock()
    est.predict_proba(X) if hasattr(est, "predict_proba") else est.predict(X)
    return _clock() - start


def peak_memory(fn):
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def run(workloads, dtypes, repeats, memory):
    rng = np.random.default_rng(0)
    rows, mem_rows = [], []
    for w in workloads:
        for dtype in dtypes:
            X, y = w.data(dtype, rng)
            times = {name: [] for name in RUNS}
            for r in range(repeats):
                # Alternate the order, so that no library always runs on a warmer machine.
                for name in (RUNS if r % 2 == 0 else RUNS[::-1]):
                    est = w.estimators()[name.startswith("sklearn")]
                    with threadpool_limits(1 if name.endswith("-1t") else None, "blas"):
                        t, est = timed_fit(est, X, y)
                        if w.predict_rows:
                            Xp = rng.standard_normal((w.predict_rows, w.n_features)).astype(dtype)
                            t = timed_predict(est, Xp)
                    times[name].append(t)
            sk, sk1, fnn, fnn1 = (statistics.median(times[name]) for name in RUNS)
            fitted = w.estimators()[0].fit(X, y)
            floor = None
            if not w.predict_rows:
                n_epochs = fitted.n_iter_ if w.params["solver"] != "lbfgs" else None
                if n_epochs is None:  # lbfgs: one product set per function evaluation
                    n_epochs = max(fitted.n_iter_, 1)
                floor = best_gemm_floor(w, dtype, rng, n_epochs)
            rows.append((w.name, np.dtype(dtype).name, sk, sk1, fnn, sk / fnn, sk1 / fnn,
                         sk1 / fnn1, fnn / fnn1, None if floor is None else fnn / floor))
            print(_format_row(rows[-1]), flush=True)
            if memory:
                mem_rows.append(_memory_row(w, dtype, X, y, rng))
    return rows, mem_rows


def _memory_row(w, dtype, X, y, rng):
    fnn_est, sk_est = w.estimators()
    fit = [peak_memory(lambda e=e: e.fit(X, y)) for e in (sk_est, fnn_est)]
    Xp = rng.standard_normal((w.predict_rows or 100_000, w.n_features)).astype(dtype)
    pred = [peak_memory(lambda e=e: e.predict(Xp)) for e in (sk_est, fnn_est)]
    return (w.name, np.dtype(dtype).name, *fit, *pred, Xp.shape[0])


# "-1t": the same library limited to one BLAS thread (threadpoolctl) for the whole fit.
RUNS = ("sklearn", "sklearn-1t", "skfnn", "skfnn-1t")
HEADER = (f"{'workload':<11} {'dtype':<8} {'sklearn s':>10} {'sk 1t s':>8} {'skfnn s':>8} "
          f"{'ratio':>6} {'ratio 1t':>8} {'both 1t':>7} {'vs own 1t':>9} {'x floor':>8}")


def _format_row(row):
    name, dtype, sk, sk1, fnn, ratio, ratio1, both1, own1, floor = row
    floor_s = "-" if floor is None else f"{floor:.2f}"
    return (f"{name:<11} {dtype:<8} {sk:>10.3f} {sk1:>8.3f} {fnn:>8.3f} {ratio:>6.2f} "
            f"{ratio1:>8.2f} {both1:>7.2f} {own1:>9.2f} {floor_s:>8}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workloads", nargs="*", default=[w.name for w in WORKLOADS],
                        choices=[w.name for w in WORKLOADS])
    parser.add_argument("--dtypes", nargs="*", default=["float64", "float32"])
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time CPU seconds of the process instead of wall seconds")
    args = parser.parse_args(argv)
    global _clock
    _clock = time.process_time if args.cpu_time else time.perf_counter
    warnings.simplefilter("ignore", ConvergenceWarning)
    blas = ", ".join(f"{i['internal_api']} {i['version']} ({i['num_threads']} threads)"
                     for i in threadpool_info())
    print(f"python {platform.python_version()}, numpy {np.__version__}, scipy "
          f"{scipy.__version__}, scikit-learn {sklearn.__version__}, skfnn {skfnn.__version__}")
    print(f"{platform.machine()}, BLAS: {blas}")
    clock = "CPU" if args.cpu_time else "wall"
    print(f"{clock} seconds, median of {args.repeats} alternating runs. ratio = sklearn / "
          "skfnn, both as installed; ratio 1t = sklearn on one BLAS thread / skfnn; "
          "vs own 1t = skfnn / "
          "skfnn on one BLAS thread (above 1: threads cost skfnn time); both 1t = sklearn / skfnn, "
          "each on one BLAS thread; x floor = skfnn / "
          "numpy GEMM time of the same products\n")
    print(HEADER)
    print("-" * len(HEADER))
    workloads = [w for w in WORKLOADS if w.name in args.workloads]
    _, mem_rows = run(workloads, [np.dtype(d).type for d in args.dtypes], args.repeats,
                      not args.no_memory)
    if mem_rows:
        print(f"\n{'workload':<11} {'dtype':<8} {'fit MB sk':>10} {'fit MB fnn':>11} "
              f"{'predict MB sk':>14} {'predict MB fnn':>15} {'rows':>9}")
        for name, dtype, fs, ff, ps, pf, n in mem_rows:
            print(f"{name:<11} {dtype:<8} {fs / 1e6:>10.1f} {ff / 1e6:>11.1f} "
                  f"{ps / 1e6:>14.1f} {pf / 1e6:>15.1f} {n:>9}")


if __name__ == "__main__":
    main()

"""Training on a GPU through the array API: skfnn on PyTorch arrays against the CPU.

For the large workloads of benchmarks/speed.py and a larger one (200,000 × 500,
hidden layers (1024, 1024, 512)), fits, alternately and with identical
parameters (every epoch runs: ``tol=0``):

- scikit-learn's MLP on the CPU (numpy),
- skfnn on the CPU (numpy),
- skfnn on PyTorch arrays on ``--device`` (``cuda`` when there is one), under
  ``sklearn.config_context(array_api_dispatch=True)``,

and prints the median fit times, the ratios sklearn / skfnn-on-device and
skfnn-numpy / skfnn-on-device, the device's GEMM floor (the workload's own matrix
products, forward, backward and weight gradients of every minibatch, timed in
PyTorch on the device) and skfnn's time as a multiple of it, and the largest
relative difference between the weights of skfnn's numpy and device fits (the
same seed draws the same network: only roundings differ).

Run from the repository root (scikit-learn needs SCIPY_ARRAY_API=1 to dispatch)::

    pip install -r .ci/array-api.txt          # PyTorch (a CUDA build on a GPU machine)
    SCIPY_ARRAY_API=1 python benchmarks/gpu.py                 # all workloads, float32
    SCIPY_ARRAY_API=1 python benchmarks/gpu.py --skip-sklearn xl   # sklearn takes long on xl
    SCIPY_ARRAY_API=1 python benchmarks/gpu.py --smoke        # tiny workloads, CPU torch

On a machine without CUDA the device is PyTorch's CPU: the script then checks
that everything runs and agrees (``--smoke`` is what the test-suite runs), and its
ratios say nothing about GPUs.
"""

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import scipy
import sklearn
from sklearn.exceptions import ConvergenceWarning

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed  # noqa: E402  (the workloads and their GEMM floor)

import skfnn  # noqa: E402

#: speed.py's large workloads, and a larger one.
LARGE = ("wide", "large-sgd")
XL = speed.Workload("xl", 200_000, 500, 10, True,
                    dict(hidden_layer_sizes=(1024, 1024, 512), solver="adam",
                         batch_size=512, max_iter=1),
                    notes="200,000 x 500 classifier, (1024, 1024, 512), adam")
WORKLOADS = [w for w in speed.WORKLOADS if w.name in LARGE] + [XL]
#: --smoke: the same solvers and shapes of network, small enough for a test on a CPU.
SMOKE = [replace(w, n_samples=600, n_features=20, params={
    **w.params, "hidden_layer_sizes": (32, 16), "max_iter": 2, "batch_size": 100})
    for w in WORKLOADS]

RUNS = ("sklearn", "skfnn-numpy", "skfnn-device")
HEADER = (f"{'workload':<10} {'dtype':<8} {'sklearn s':>10} {'numpy s':>9} {'device s':>9} "
          f"{'sk/dev':>7} {'np/dev':>7} {'floor s':>8} {'x floor':>8} {'gap':>9}")


def _torch():
    try:
        import torch
    except ImportError:
        sys.exit("benchmarks/gpu.py needs PyTorch: pip install -r .ci/array-api.txt "
                 "(or a CUDA build of torch on a GPU machine).")
    if os.environ.get("SCIPY_ARRAY_API") != "1":
        sys.exit("Set SCIPY_ARRAY_API=1 before running: scikit-learn dispatches to the "
                 "array API only with scipy's array API support on.")
    return torch


def fit_seconds(torch, device, est, X, y):
    """Wall time of ``est.fit(X, y)`` (PyTorch's queue drained before and after)."""
    sync = _sync(torch, device)
    sync()
    start = time.perf_counter()
    if isinstance(X, np.ndarray):
        est.fit(X, y)
    else:
        with sklearn.config_context(array_api_dispatch=True):
            est.fit(X, y)
    sync()
    return time.perf_counter() - start, est


def device_gemm_floor(torch, device, w, dtype, rng, n_epochs):
    """speed.py's GEMM floor, with the products made by PyTorch on the device."""
    return speed.gemm_floor(w, dtype, rng, n_epochs, xp=torch,
                            put=lambda a: torch.asarray(a, device=device),
                            sync=_sync(torch, device))


def _sync(torch, device):
    """Wait for the device's queue (a no-op on the CPU)."""
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def weight_gap(numpy_fit, device_fit):
    """max |W_device − W_numpy| / max |W_numpy| over the layers (0 when equal)."""
    return max(float(np.max(np.abs(Wd.cpu().numpy() - Wn)) / np.max(np.abs(Wn)))
               for Wn, Wd in zip(numpy_fit.coefs_, device_fit.coefs_, strict=True))


def run(workloads, dtypes, repeats, device, skip_sklearn):
    torch = _torch()
    rng = np.random.default_rng(0)
    for w in workloads:
        for dtype in dtypes:
            X, y = w.data(dtype, rng)
            on_device = (torch.asarray(X, device=device), torch.asarray(y, device=device))
            times = {name: [] for name in RUNS}
            fits = {}
            for r in range(repeats):
                for name in (RUNS if r % 2 == 0 else RUNS[::-1]):
                    if name == "sklearn" and w.name in skip_sklearn:
                        continue
                    est = w.estimators()[name == "sklearn"]
                    data = on_device if name == "skfnn-device" else (X, y)
                    t, fits[name] = fit_seconds(torch, device, est, *data)
                    times[name].append(t)
            sk, fnn, dev = (statistics.median(times[name]) if times[name] else float("nan")
                            for name in RUNS)
            n_epochs = max(fits["skfnn-numpy"].n_iter_, 1)
            floor = device_gemm_floor(torch, device, w, dtype, rng, n_epochs)
            gap = weight_gap(fits["skfnn-numpy"], fits["skfnn-device"])
            print(f"{w.name:<10} {np.dtype(dtype).name:<8} {sk:>10.3f} {fnn:>9.3f} {dev:>9.3f} "
                  f"{sk / dev:>7.2f} {fnn / dev:>7.2f} {floor:>8.3f} {dev / floor:>8.2f} "
                  f"{gap:>9.1e}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workloads", nargs="*", default=[w.name for w in WORKLOADS],
                        choices=[w.name for w in WORKLOADS])
    parser.add_argument("--dtypes", nargs="*", default=["float32"])
    parser.add_argument("--device", default=None,
                        help="PyTorch device (default: cuda if available, else cpu)")
    parser.add_argument("--skip-sklearn", nargs="*", default=[], metavar="WORKLOAD",
                        help="workloads on which scikit-learn's MLP is not timed")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny versions of the workloads, one repeat (a test)")
    args = parser.parse_args(argv)
    torch = _torch()
    warnings.simplefilter("ignore", ConvergenceWarning)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.machine()
    print(f"python {platform.python_version()}, numpy {np.__version__}, scipy "
          f"{scipy.__version__}, scikit-learn {sklearn.__version__}, torch "
          f"{torch.__version__}, skfnn {skfnn.__version__}")
    print(f"device: {device} ({name}); CPU: {platform.machine()}, {os.cpu_count()} cores")
    repeats = 1 if args.smoke else args.repeats
    print(f"median of {repeats} alternating fit(s). sklearn and numpy: on the CPU; device: "
          "skfnn on torch arrays under array_api_dispatch. sk/dev, np/dev = time ratios "
          "(above 1: the device is faster); floor = the workload's GEMMs in torch on the "
          "device; x floor = device / floor; gap = max relative difference of the weights "
          "of the numpy and device fits\n")
    print(HEADER)
    print("-" * len(HEADER))
    chosen = SMOKE if args.smoke else WORKLOADS
    workloads = [w for w in chosen if w.name in args.workloads]
    run(workloads, [np.dtype(d).type for d in args.dtypes], repeats, device,
        set(args.skip_sklearn))


if __name__ == "__main__":
    main()

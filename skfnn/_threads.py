"""Scoped limits on BLAS threads, where threads do not pay.

A minibatch product of a small network (say 200 × 64 times 64 × 100) is over
before a second BLAS thread has done useful work, yet OpenBLAS still wakes its
pool for it, and the threads then spin against the Python code between the
products (and, under L-BFGS, against scipy's own OpenBLAS pool). On a loaded
or small machine this makes a fit several times slower than with one thread.
Fits whose largest product is below :data:`MIN_WORK_PER_THREAD` therefore run
with one BLAS thread, restored afterwards; larger ones keep the user's setting.
"""

import contextlib

from threadpoolctl import ThreadpoolController

#: Multiply-adds in the largest matrix product of a step below which a fit
#: runs on one BLAS thread (see benchmarks/speed.py and docs/performance.md).
MIN_WORK_PER_THREAD = 2**23

_controller = None


def blas_threads_for(n_rows, layer_units):
    """A context that limits BLAS to one thread if the step's products are small.

    Parameters
    ----------
    n_rows : int
        Rows of the matrices multiplied in one step (batch size, or n_samples
        for L-BFGS).
    layer_units : sequence of int
        The network's layer sizes.
    """
    work = n_rows * max(a * b for a, b in zip(layer_units[:-1], layer_units[1:]))
    if work >= MIN_WORK_PER_THREAD:
        return contextlib.nullcontext()
    global _controller
    if _controller is None:  # inspecting the loaded libraries takes ~1 ms: once
        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")

"""Scoped limits on BLAS threads, where threads do not pay.

A minibatch product of a small network (say 200 × 64 times 64 × 100) is over
before a second BLAS thread has done useful work, yet OpenBLAS still wakes its
pool for it, and the threads then spin against the Python code between the
products (and, under L-BFGS, against scipy's own OpenBLAS pool). On a loaded
or small machine this makes a fit several times slower than with one thread.
Fits whose largest product is below :data:`MIN_WORK_PER_THREAD` therefore run
with one BLAS thread; larger ones keep the user's setting.

A BLAS library's thread count belongs to the process, not to a thread: a
limit set for one fit holds for every thread while it lasts, and
threadpoolctl only lets the thread that set a limit change it back. So:

- One fit at a time holds the limit, and only in the thread that set it is it
  restored, when that fit ends (however it ends). Fits that overlap it in
  other threads run under it and change nothing; a fit nested in the holder
  (a callback fitting another small model) keeps it.
- A fit takes the limit only when no other thread could be doing numpy work
  that it would slow: when every other live thread is a daemon thread
  (interpreter, IPython and callback plumbing) or joblib's executor manager
  (which lives on between parallel calls and runs no numpy). Otherwise (joblib's threading
  backend, Dask workers with several threads, a user's own worker threads)
  the fit runs with the BLAS settings as they are. A thread that starts numpy
  work *while* a limited fit runs shares the one thread until that fit ends.
"""

import contextlib
import threading

from threadpoolctl import ThreadpoolController

#: Multiply-adds in the largest matrix product of a step below which a fit
#: runs on one BLAS thread (see benchmarks/speed.py and docs/performance.md).
MIN_WORK_PER_THREAD = 2**23

try:  # joblib (a scikit-learn dependency) keeps this thread alive after a parallel call
    from joblib.externals.loky.process_executor import _ExecutorManagerThread

    _IDLE_MANAGERS = (_ExecutorManagerThread,)
except ImportError:  # pragma: no cover - another joblib layout
    _IDLE_MANAGERS = ()

_blas = None  # threadpoolctl's controllers of the loaded BLAS libraries, found once
_lock = threading.Lock()
_holder = None  # the thread whose fit holds the one-thread limit


def blas_threads_for(n_rows, layer_units):
    """A context that limits BLAS to one thread if the step's products are small.

    Used by training (a step's products) and by prediction (the forward pass
    of ``predict``, ``predict_proba``, ``score`` and the validation scores):
    a search that scores between fits would otherwise wake the BLAS pool for
    each small scoring product, and its workers spin against the next fit.

    Parameters
    ----------
    n_rows : int
        Rows of the matrices multiplied in one step (batch size, or n_samples
        for L-BFGS and prediction).
    layer_units : sequence of int
        The network's layer sizes.
    """
    work = n_rows * max(a * b for a, b in zip(layer_units[:-1], layer_units[1:], strict=True))
    if work >= MIN_WORK_PER_THREAD:
        return contextlib.nullcontext()
    return _one_blas_thread()


def _blas_libraries():
    global _blas
    if _blas is None:  # inspecting the loaded libraries takes ~1 ms: once
        _blas = ThreadpoolController().select(user_api="blas").lib_controllers
    return _blas


@contextlib.contextmanager
def _one_blas_thread():
    global _holder
    me = threading.current_thread()
    with _lock:
        take = _holder is None and all(t.daemon or t is me or isinstance(t, _IDLE_MANAGERS)
                                       for t in threading.enumerate())
        if take:
            _holder = me
    if not take:  # another fit holds it, this one is nested, or a bystander may be working
        yield
        return
    try:
        # The libraries' own setters, not threadpoolctl's limit(): that costs ~50 µs a
        # call (it re-selects and re-reads every library), which a one-row predict
        # would feel; this costs ~14 µs, and ~4 µs where BLAS already has one thread.
        libraries = _blas_libraries()
        before = [library.num_threads for library in libraries]
        for library, n in zip(libraries, before, strict=True):
            if n != 1:
                library.set_num_threads(1)
        try:
            yield
        finally:
            for library, n in zip(libraries, before, strict=True):
                if n != 1:
                    library.set_num_threads(n)
    finally:
        with _lock:
            _holder = None

"""Array namespaces: numpy as itself, every other array library through the array API.

The engine, the optimizers, the built-in activations and losses are written once
against a namespace ``xp``. For numpy arrays ``xp`` is the numpy module itself, so
that numpy code runs exactly as it always has (the same calls, the same roundings,
the ``out=`` fast paths of the workspace); for the arrays of any other library
(PyTorch, CuPy, array-api-strict) it is that library's array-API namespace, as
scikit-learn's vendored array-api-compat gives it. A few operations that numpy
and the array API standard spell differently, or that the standard lacks (erf,
the logistic function), live here with one branch for each.

Which namespace a fit runs in is decided once, from X, by :func:`fit_namespace`
(scikit-learn's ``array_api_dispatch`` must be on for anything but numpy).
"""

import os
from numbers import Number

import numpy as np
import scipy.sparse as sp
from scipy.special import erf as _np_erf
from scipy.special import expit as _np_expit
from scipy.special import log_expit as _np_log_expit
from scipy.special import xlogy as _np_xlogy
from sklearn.externals import array_api_compat as _compat

from ._sklearn_compat import (
    HAS_ARRAY_API,
    _convert_to_numpy,
    get_namespace_and_device,
    move_to,
    supported_float_dtypes,
)

__all__ = [
    "NO_BUFFER",
    "all_finite",
    "array_namespace",
    "astype",
    "buffer",
    "check_trainable",
    "concat",
    "copy",
    "default_float",
    "describe_namespace",
    "describe_place",
    "device",
    "dispatch_possible",
    "dot",
    "empty",
    "erf",
    "expit",
    "fit_namespace",
    "follow",
    "has_out_buffers",
    "is_array",
    "is_float",
    "is_numpy",
    "is_real",
    "is_real_dtype",
    "is_view",
    "log_expit",
    "loss_value",
    "name",
    "needs_dispatch",
    "on_device",
    "promotes_in_products",
    "row_dots",
    "rows",
    "scalar",
    "scratch",
    "sum",
    "to_namespace",
    "to_numpy",
    "pow",
    "ufuncs",
    "xlogy",
    "zeros",
]


def array_namespace(*arrays):
    """The array namespace of ``arrays``: numpy itself for numpy arrays.

    Write an activation or a loss that works on every array library by taking
    its functions from the namespace of its inputs: ``xp = array_namespace(z)``,
    then ``xp.tanh(z)``, ``xp.where(...)``, ... (the array API standard's names,
    which numpy shares). numpy arrays, numpy scalars, Python numbers, scipy sparse
    matrices, lists and None give the numpy module; PyTorch, CuPy and
    array-api-strict arrays give their array-API-compatible namespace (from
    array-api-compat), whatever scikit-learn's ``array_api_dispatch`` setting.

    Parameters
    ----------
    *arrays : arrays, numbers or None

    Returns
    -------
    xp : module
        numpy, or the namespace of the first array that is not a numpy array.

    Examples
    --------
    >>> import numpy as np
    >>> from skfnn import array_namespace
    >>> array_namespace(np.ones(3)) is np
    True
    """
    for a in arrays:
        if not isinstance(a, (np.ndarray, np.generic, Number)) and _compat.is_array_api_obj(a):
            return _compat.array_namespace(a)
    return np


def name(xp):
    """The library's name of a namespace: "numpy", "torch", "cupy", "array_api_strict"."""
    return xp.__name__.rsplit(".", 1)[-1]


def is_array(value):
    """True for an array of numpy or of any array-API library (not for lists or numbers)."""
    return isinstance(value, np.ndarray) or (
        not isinstance(value, (np.generic, Number, str, list, tuple))
        and _compat.is_array_api_obj(value))


def device(x):
    """The device of ``x``; None for numpy (numpy < 2 takes no ``device=``)."""
    return None if array_namespace(x) is np else _compat.device(x)


def empty(shape, dtype, like):
    """An uninitialised array of ``like``'s namespace and device."""
    xp = array_namespace(like)
    if xp is np:
        return np.empty(shape, dtype)
    return xp.empty(shape, dtype=dtype, device=device(like))


def scalar(value, like):
    """A number to combine with ``like``: itself for numpy, a 0-d array of like's dtype
    and device elsewhere (PyTorch's array-API functions take no Python numbers)."""
    xp = array_namespace(like)
    if xp is np:
        return value
    return xp.asarray(value, dtype=like.dtype, device=device(like))


def on_device(host_array, like, dtype=None):
    """A numpy array (or one of ``like``'s) in ``like``'s namespace and on its device.

    For numpy, the array as it is (cast to ``dtype`` if given).
    """
    xp = array_namespace(like)
    if xp is np:
        return host_array if dtype is None else host_array.astype(dtype, copy=False)
    return xp.asarray(host_array, dtype=dtype, device=device(like))


def to_numpy(x):
    """``x`` as a numpy array on the host (numpy arrays and None as they are)."""
    if x is None or isinstance(x, np.ndarray):
        return x
    return _convert_to_numpy(x, array_namespace(x))


def copy(x):
    """A copy of ``x`` in its own namespace and on its device."""
    if isinstance(x, np.ndarray):
        return x.copy()
    return array_namespace(x).asarray(x, copy=True)


def astype(x, dtype):
    """``x`` cast to ``dtype`` (no copy where it already has it)."""
    if isinstance(x, np.ndarray):
        return x.astype(dtype, copy=False)
    return array_namespace(x).astype(x, dtype, copy=False)


def rows(A, index):
    """The rows ``index`` (a slice or an integer array of A's namespace) of A."""
    if isinstance(A, np.ndarray) or sp.issparse(A):
        return A[index]
    if isinstance(index, slice):
        return A[index, ...]
    return array_namespace(A).take(A, index, axis=0)


def concat(arrays, axis):
    """The arrays joined along ``axis`` (numpy < 2 has no ``concat``)."""
    if isinstance(arrays[0], np.ndarray):
        return np.concatenate(arrays, axis=axis)
    return array_namespace(*arrays).concat(arrays, axis=axis)


def dot(x, y):
    """⟨x, y⟩ of two vectors (numpy: BLAS's dot, as scikit-learn sums it)."""
    if isinstance(x, np.ndarray):
        return np.dot(x, y)
    return array_namespace(x).vecdot(x, y)


def sum(x, axis=None):  # noqa: A001 (the array API's name)
    """Σ of x's elements (along ``axis``); numpy's ndarray.sum, 2 µs quicker than np.sum."""
    if isinstance(x, np.ndarray):
        return x.sum(axis=axis)
    return array_namespace(x).sum(x, axis=axis)


def row_dots(x, y):
    """⟨x_i, y_i⟩ for each row i of two matrices."""
    if isinstance(x, np.ndarray):
        return np.einsum("ij,ij->i", x, y)
    return array_namespace(x).sum(x * y, axis=1)


def has_out_buffers(xp):
    """True for numpy: ufuncs write into preallocated buffers (``out=``), the fast path
    of the engine's workspace and of the activations' ``forward_into``; the array API
    has no ``out=``, and a GPU library's caching allocator makes fresh arrays cheap."""
    return xp is np


def buffer(xp, shape, dtype):
    """A reusable buffer for numpy's ``out=`` fast path; None for every other namespace."""
    return np.empty(shape, dtype) if xp is np else None


class _NoBuffer:
    """The scratch block of a namespace without buffers: each of its blocks is None."""

    def __getitem__(self, key):
        return None


NO_BUFFER = _NoBuffer()


def scratch(xp, size, dtype):
    """A scratch block (sliced into per-block buffers); without buffers, blocks of None."""
    return np.empty(size, dtype) if xp is np else NO_BUFFER


def zeros(size, dtype, xp, device):
    """A vector of zeros in ``xp`` on ``device`` (numpy < 2 takes no ``device=``)."""
    return np.zeros(size, dtype=dtype) if xp is np else xp.zeros(size, dtype=dtype, device=device)


def to_namespace(host_array, xp, device, dtype=None):
    """A numpy array in ``xp`` on ``device``; numpy's as it is (an assignment casts it)."""
    if xp is np:
        return host_array
    return xp.asarray(host_array, dtype=dtype, device=device)


def loss_value(J, xp):
    """J as the loops keep it: numpy's scalar (in θ's precision), else a host float."""
    return J if xp is np else float(J)


def is_numpy(xp):
    """True for numpy's namespace (its arrays need no namespace checks)."""
    return xp is np


def promotes_in_products(x):
    """True if products with ``x`` promote mixed dtypes (numpy's ``@`` and its ``out=``
    buffers cast); the array API's ``@`` needs operands of one dtype."""
    return array_namespace(x) is np


def default_float(like):
    """The floating dtype weights that are not floats become: float64 for numpy, else
    ``like``'s own (a device may lack float64)."""
    return np.float64 if array_namespace(like) is np else like.dtype


def needs_dispatch(xp):
    """True if scikit-learn handles arrays of ``xp`` only under ``array_api_dispatch``."""
    return xp is not np


def describe_namespace(xp):
    """(what the weights must be, the module to make them with): for error messages."""
    return ("numpy", "np") if xp is np else (f"{name(xp)} (as in fit)", "xp")


def describe_place(xp, dev):
    """Where arrays of ``xp`` on ``dev`` live, in words: "numpy", "torch arrays on cpu"."""
    return "numpy" if xp is np else f"{name(xp)} arrays on {dev}"


def pow(x, p):  # noqa: A001 (the array API's name)
    """x ** p elementwise (numpy < 2 has no ``np.pow``: its ``power``)."""
    xp = array_namespace(x)
    return np.power(x, p) if xp is np else xp.pow(x, p)


def is_float(dtype, xp):
    """True for a real floating dtype of ``xp``."""
    return np.dtype(dtype).kind == "f" if xp is np else xp.isdtype(dtype, "real floating")


def is_real_dtype(dtype, xp):
    """True for a boolean, integer or real floating dtype of ``xp``."""
    if xp is np:
        return np.dtype(dtype).kind in "biuf"
    return xp.isdtype(dtype, ("bool", "integral", "real floating"))


def is_real(x):
    """True for an array of booleans, integers or real floating-point numbers."""
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "biuf"
    return array_namespace(x).isdtype(x.dtype, ("bool", "integral", "real floating"))


def is_view(p, view, theta):
    """True if ``p`` is the array ``view`` of θ: the same memory, shape and dtype.

    numpy says so exactly (``p.base is theta``); PyTorch, CuPy and array-api-strict
    through the address of the first element; any other namespace cannot tell (False:
    the caller re-packs θ, which is always right).
    """
    if isinstance(p, np.ndarray):
        return p.base is theta and p.ctypes.data == view.ctypes.data
    address = _ADDRESS.get(type(p).__module__.split(".")[0])
    return (address is not None and type(p) is type(view) and p.dtype == view.dtype
            and tuple(p.shape) == tuple(view.shape) and address(p) == address(view))


_ADDRESS = {
    "torch": lambda x: x.data_ptr(),
    "cupy": lambda x: x.data.ptr,
    "array_api_strict": lambda x: x._array.ctypes.data,
}


def all_finite(x):
    """True if no element of x is nan or ±inf."""
    if isinstance(x, np.ndarray):
        return bool(np.isfinite(x).all())
    xp = array_namespace(x)
    return bool(xp.all(xp.isfinite(x)))


# ----------------------------------------------------------------------------
# Functions the array API standard does not have
# ----------------------------------------------------------------------------
def expit(z, out=None):
    """The logistic function 1 / (1 + e^{-z}) (scipy's, into ``out``, for numpy)."""
    if isinstance(z, np.ndarray):
        return _np_expit(z, out=out)
    torch = _library(z, "torch")
    if torch is not None:  # exact where 1 / (1 + e^{-z}) loses digits (z ≪ 0)
        return torch.sigmoid(z)
    return 1 / (1 + array_namespace(z).exp(-z))


def log_expit(z):
    """log σ(z) = −log(1 + e^{−z}), finite where σ(z) underflows."""
    if isinstance(z, np.ndarray):
        return _np_log_expit(z)
    xp = array_namespace(z)
    return -xp.logaddexp(xp.zeros_like(z), -z)


def xlogy(x, y):
    """x log y, 0 where x = 0 (whatever y)."""
    if isinstance(x, np.ndarray):
        return _np_xlogy(x, y)
    xp = array_namespace(x)
    return xp.where(x == 0, xp.zeros_like(x), x * xp.log(xp.where(x == 0, 1, y)))


def erf(z, user="gelu"):
    """The error function, from the namespace's own library where it has one.

    The array API standard has no erf: numpy takes scipy's, PyTorch
    ``torch.special.erf``, CuPy ``cupyx.scipy.special.erf``; for any other
    namespace ``user`` (the activation that needs it) cannot run, and the error
    says so.
    """
    if isinstance(z, np.ndarray):
        return _np_erf(z)
    torch = _library(z, "torch")
    if torch is not None:
        return torch.special.erf(z)
    if _library(z, "cupy") is not None:
        import cupyx.scipy.special

        return cupyx.scipy.special.erf(z)
    raise ValueError(
        f"The activation {user!r} needs the error function erf, which the array API "
        f"standard does not define and the array namespace {name(array_namespace(z))} "
        "does not provide "
        "(numpy, PyTorch and CuPy do). Use another activation (e.g. 'silu') with this "
        f"namespace, or fit numpy, PyTorch or CuPy arrays.")


def _library(x, library):
    """The module ``library`` if x is one of its arrays, else None."""
    if type(x).__module__.split(".")[0] != library:
        return None
    return __import__(library)


# ----------------------------------------------------------------------------
# numpy's ufunc calling convention on every namespace
# ----------------------------------------------------------------------------
def ufuncs(xp):
    """numpy itself for numpy; otherwise its ufuncs as out-of-place functions of ``xp``.

    Code that calls ``u.multiply(x, y, out=buffer)`` and goes on with the
    *returned* array runs on every namespace: numpy writes into ``buffer`` (no
    temporary: the workspace's fast path), the others return a new array (their
    workspaces hold no buffers, and the array API has no ``out=``).
    """
    return np if xp is np else _OutOfPlace(xp)


class _OutOfPlace:
    """The few numpy ufuncs the engine and the optimizers use, for a namespace without
    ``out=`` (``add.reduce`` alone writes into ``out``, a view of ∇J that must receive it)."""

    def __init__(self, xp):
        self.xp = xp

    def multiply(self, x1, x2, out=None):
        return x1 * x2

    def square(self, x, out=None):
        return x * x

    def sqrt(self, x, out=None):
        return self.xp.sqrt(x)

    @property
    def add(self):
        return _Add(self.xp)


class _Add:
    """``add.reduce``: the one ufunc method the engine uses (Σ_rows Δ into ∇b)."""

    def __init__(self, xp):
        self.xp = xp

    def reduce(self, x, axis, out, keepdims=False):
        out[...] = self.xp.sum(x, axis=axis, keepdims=keepdims)
        return out


# ----------------------------------------------------------------------------
# The namespace of a fit
# ----------------------------------------------------------------------------
def fit_namespace(X):
    """``(xp, device, dtypes)`` for data X under scikit-learn's current configuration.

    numpy (as the module itself) unless ``array_api_dispatch`` is on and X is
    an array of another library. ``dtypes`` are the float dtypes X may be
    converted to, highest precision first: float64 where the device supports
    it, float32 otherwise (integer X becomes the first).
    """
    if isinstance(X, np.ndarray):  # numpy under any configuration (and no lookup)
        return np, None, (np.float64, np.float32)
    if _library(X, "torch") is not None and str(X.layout) != "torch.strided":
        raise ValueError(
            f"X is a sparse PyTorch tensor ({X.layout}); sparse input is numpy-only: give a "
            "scipy.sparse CSR or CSC matrix (trained on numpy) or a dense tensor "
            "(X.to_dense()).")
    xp, is_array_api, dev = get_namespace_and_device(X)
    if not is_array_api or xp.__name__ in _NUMPY_NAMES or sp.issparse(X):
        return np, None, (np.float64, np.float32)
    if not HAS_ARRAY_API:
        import sklearn

        raise ValueError(
            f"array_api_dispatch=True with {name(xp)} arrays needs scikit-learn >= 1.9 "
            f"for skfnn (its array API helpers); this is scikit-learn {sklearn.__version__}. "
            "Upgrade scikit-learn, or fit numpy arrays.")
    floats = tuple(d for d in supported_float_dtypes(xp, dev)
                   if d in (xp.float64, xp.float32))
    return xp, dev, floats


def dispatch_possible():
    """True if scikit-learn can dispatch to the array API here.

    scikit-learn >= 1.9 (skfnn's array API helpers) and scipy's array API support
    switched on (SCIPY_ARRAY_API=1 before scipy is imported), which scikit-learn
    requires.
    """
    return HAS_ARRAY_API and os.environ.get("SCIPY_ARRAY_API") == "1"


def follow(X, *arrays):
    """``arrays`` moved to X's namespace and device under ``array_api_dispatch``.

    As scikit-learn's array-API estimators treat y and sample_weight: everything
    follows X. Without dispatch (or before scikit-learn 1.9) they are returned as
    they are, for validation to turn into numpy arrays.
    """
    if all(a is None for a in arrays):  # nothing to move (and no lookup)
        return arrays[0] if len(arrays) == 1 else arrays
    xp, is_array_api, dev = get_namespace_and_device(X)
    if is_array_api and HAS_ARRAY_API and not sp.issparse(X):
        # Lists and DataFrames through numpy first: PyTorch would read Python floats as
        # float32, numpy reads them as float64.
        arrays = [a if a is None or isinstance(a, Number) or is_array(a) else np.asarray(a)
                  for a in arrays]
        return move_to(*arrays, xp=xp, device=dev)
    return arrays[0] if len(arrays) == 1 else arrays


_NUMPY_NAMES = ("numpy", "sklearn.externals.array_api_compat.numpy", "array_api_compat.numpy")


def check_trainable(xp, dev):
    """Training updates θ in place through views of it (coefs_, intercepts_, the layers).

    Raise ValueError for a namespace whose slices are copies (JAX); nothing to
    check for numpy.
    """
    if xp is np:
        return
    theta = xp.zeros(2, device=dev)
    view = theta[1:]
    try:
        view += 1
    except (TypeError, ValueError, NotImplementedError) as exc:
        broken = exc
    else:
        broken = None if float(theta[1]) == 1 else "writes to a slice do not reach the array"
    if broken is not None:
        raise ValueError(
            f"skfnn cannot train on {name(xp)} arrays: it updates the packed parameters "
            "in place through views of them (coefs_ and intercepts_ are views of one "
            f"vector), and this namespace does not allow it ({broken}). numpy, PyTorch, "
            "CuPy and array-api-strict do.")



"""A fitted estimator's state as plain data, and back.

What a pickle (or a skops file) of a fitted estimator holds is builtins and
numpy arrays: the network being trained becomes its layer sizes, α and the
*names and parameters* of its built-in activations and loss (user-supplied
objects stay objects: they are the user's code), the optimizer becomes its
arrays and numbers, θ is left out (it is a cache of ``coefs_`` and
``intercepts_``, re-packed on load) and so is everything that only lives
during a fit. The state carries the skfnn version that wrote it; loading a
state written by another version warns (:class:`~skfnn.exceptions.InconsistentVersionWarning`).

A model fitted under ``array_api_dispatch`` keeps its arrays (``coefs_``,
``intercepts_``, the optimizer's state, ``classes_``) as arrays of their own
library, which pickles them as it pickles its arrays (PyTorch tensors as
tensors, on their device), as scikit-learn's array-API estimators do; the
network's namespace is not state (a module is not data): it is that of
``coefs_`` again on load.
"""


import numpy as np

from . import _array_api
from ._network import Network
from ._version import __version__
from .activations import ACTIVATIONS
from .exceptions import InconsistentVersionWarning
from .losses import LOSSES
from .optimizers import SGD, Adam
from ._warn import warn_user

__all__ = ["dump_state", "load_state"]

_OPTIMIZERS = {cls.__name__: cls for cls in (SGD, Adam)}
# Parameters that may hold built-in activation or loss objects (or sequences of them).
_PIECE_PARAMS = ("activation", "out_activation", "loss")
_REGISTRIES = {"activation": ACTIVATIONS, "loss": LOSSES}
# Set by scikit-learn's callback machinery during a fit only.
_FIT_ONLY = ("_callback_fit_ctx", "_skl_callbacks_to_teardown", "_parent_callback_ctx")


def dump_state(estimator, state):
    """The plain-data state of ``estimator`` (``state``: its ``__dict__`` as pickled)."""
    state = dict(state)  # a copy: object.__getstate__ returns the live __dict__
    for key in ("_theta", *_FIT_ONLY):
        state.pop(key, None)
    for key in _PIECE_PARAMS:
        if key in state:
            state[key] = _map_pieces(state[key], _spec)
    if "_net" in state:
        state["_net"] = _network_state(state["_net"])
    if "_optimizer" in state:
        optimizer = state["_optimizer"]
        state["_optimizer"] = {"class": type(optimizer).__name__,
                               **{k: _plain(v) for k, v in vars(optimizer).items()}}
    state["_skfnn_version"] = __version__
    return state


def load_state(estimator, state):
    """The estimator's ``__dict__`` rebuilt from :func:`dump_state`'s plain data."""
    state = dict(state)
    version = state.pop("_skfnn_version", "unknown")
    if version != __version__:
        warn_user(InconsistentVersionWarning(
            estimator_name=type(estimator).__name__, current_version=__version__,
            original_version=version))
    for key in _PIECE_PARAMS:
        if key in state:
            state[key] = _map_pieces(state[key], _from_spec)
    if isinstance(state.get("_net"), dict):
        state["_net"] = _network_from_state(state["_net"])
    if isinstance(state.get("_optimizer"), dict):
        params = dict(state["_optimizer"])
        optimizer = object.__new__(_OPTIMIZERS[params.pop("class")])
        optimizer.__dict__.update(params)
        state["_optimizer"] = optimizer
    if "_net" in state and "coefs_" in state:
        state["_theta"] = theta = _repack(state, state["_net"].layout)
        if not isinstance(theta, np.ndarray):
            state["_net"] = state["_net"].replace(xp=_array_api.array_namespace(theta),
                                                  device=_array_api.device(theta))
    return state


def _repack(state, layout):
    """θ packed from the state's coefs_ / intercepts_, which become its views again.

    Re-shaped coefs_ pickled as they are stay as they are (predict reports them).
    """
    params = [*state["coefs_"], *state["intercepts_"]]
    xp = _array_api.array_namespace(*params)
    theta = _array_api.empty(layout.size, xp.result_type(*params), params[0])
    theta[...] = 0
    Ws, bs = layout.unpack(theta)
    if _same_shapes(Ws + bs, params):
        layout.pack(state["coefs_"], state["intercepts_"], out=theta)
        state["coefs_"], state["intercepts_"] = Ws, bs
    return theta


def _same_shapes(views, arrays):
    return len(views) == len(arrays) and all(
        tuple(v.shape) == tuple(getattr(a, "shape", np.shape(a))) for v, a in zip(views, arrays))


def _plain(value):
    """numpy scalars as Python numbers; everything else as it is."""
    return value.item() if isinstance(value, np.generic) else value


def _map_pieces(value, convert):
    """``convert`` applied to a parameter's value, or to each entry of a list or tuple."""
    if isinstance(value, (list, tuple)):
        return type(value)(convert(v) for v in value)
    return convert(value)


def _spec(obj):
    """A built-in activation or loss as plain data; anything else as it is.

    ``{"__skfnn__": "activation" or "loss", "name": ..., "params": {...}}``: the
    registry name and the constructor's arguments (a user's object stays itself:
    it is the user's code, which they trust by name when they load).
    """
    for kind, registry in _REGISTRIES.items():
        if type(obj) in registry.values():
            return {"__skfnn__": kind, "name": obj.name,
                    "params": {k: _plain(v) for k, v in vars(obj).items()}}
    return obj


def _from_spec(spec):
    if not (isinstance(spec, dict) and "__skfnn__" in spec):
        return spec
    return _REGISTRIES[spec["__skfnn__"]][spec["name"]](**spec["params"])


def _network_state(net):
    return {"layer_units": [int(n) for n in net.layer_units],
            "sigmas": [_spec(s) for s in net.sigmas],
            "loss": _spec(net.loss), "alpha": float(net.alpha),
            "init_factors": [float(f) for f in net.init_factors],
            "dropout": list(net.dropout), "init": net.init}


def _network_from_state(state):
    return Network(state["layer_units"], [_from_spec(s) for s in state["sigmas"]],
                   _from_spec(state["loss"]), state["alpha"],
                   init_factors=state["init_factors"], dropout=state["dropout"],
                   init=state["init"])

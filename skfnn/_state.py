"""A fitted estimator's state as plain data, and back.

What a pickle (or a skops file) of a fitted estimator holds is builtins and
numpy arrays: the network being trained becomes its layer sizes, α and the
*names and parameters* of its built-in activations, loss and schedule (user-supplied
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

import numbers

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelBinarizer

from . import _array_api
from ._network import Network
from ._version import __version__
from ._warn import warn_user
from .activations import ACTIVATIONS
from .exceptions import InconsistentVersionWarning
from .losses import LOSSES, BinaryLogLoss, LogLoss
from .optimizers import SGD, Adam, AdamW, RMSprop
from .schedules import SCHEDULES

__all__ = ["dump_state", "load_state"]

_OPTIMIZERS = {cls.__name__: cls for cls in (SGD, Adam, AdamW, RMSprop)}
# Parameters that may hold built-in activation, loss or schedule objects (or sequences
# of them).
_PIECE_PARAMS = ("activation", "out_activation", "loss", "learning_rate")
_REGISTRIES = {"activation": ACTIVATIONS, "loss": LOSSES, "schedule": SCHEDULES}
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
                               **{k: _plain(_spec(v)) for k, v in vars(optimizer).items()}}
    state["_skfnn_version"] = __version__
    return state


def load_state(estimator, state):
    """The estimator's ``__dict__`` rebuilt from :func:`dump_state`'s plain data.

    Raises ValueError, naming the problem, for a state this skfnn cannot rebuild
    (an unknown activation or loss, a missing piece) or whose pieces disagree
    (weights vs architecture, ``classes_`` vs outputs, a classifier's state
    under a regressor's name): never a model that looks fine but is not. Where
    the state was written by another skfnn version, the message says so.
    """
    name = type(estimator).__name__
    if not isinstance(state, dict):
        raise ValueError(  # noqa: TRY004 - a crafted state: the documented errorf"Cannot load this {name}: its state is a {type(state).__name__}, "
                         "not a dict.")
    state = dict(state)
    version = state.pop("_skfnn_version", "unknown")
    if version != __version__:
        warn_user(InconsistentVersionWarning(
            estimator_name=name, current_version=__version__, original_version=version))
    try:
        return _rebuilt(estimator, state)
    except Exception as exc:
        problem = str(exc) if isinstance(exc, _Invalid) else f"{type(exc).__name__}: {exc}"
        raise ValueError(f"Cannot load this {name}: {problem}{version_hint(version)}") from exc


def version_hint(version):
    """The sentence that points at a version mismatch, when the writer's version differs."""
    if version == __version__:
        return " (the file or pickle was edited or corrupted)."
    if version == "unknown":
        return (". It carries no skfnn version (written before skfnn stamped its states?): "
                "a version mismatch is the likely cause; load it with the skfnn that wrote "
                "it, or refit.")
    return (f". It was written by skfnn {version}, this is skfnn {__version__}: a version "
            f"mismatch is the likely cause; load it with skfnn {version}, or refit.")


class _Invalid(ValueError):
    """A state that cannot be rebuilt, or whose pieces disagree (the message says which)."""


def _rebuilt(estimator, state):
    for key in _PIECE_PARAMS:
        if key in state:
            state[key] = _map_pieces(state[key], _from_spec)
    if isinstance(state.get("_net"), dict):
        state["_net"] = _network_from_state(state["_net"])
    if isinstance(state.get("_optimizer"), dict):
        state["_optimizer"] = _optimizer_from_state(state["_optimizer"])
    if _check_consistent(estimator, state):
        state["_theta"] = theta = _repack(state, state["_net"].layout)
        if not isinstance(theta, np.ndarray):
            state["_net"] = state["_net"].replace(xp=_array_api.array_namespace(theta),
                                                  device=_array_api.device(theta))
    return state


# What every fitted state holds; a classifier's holds its labels too.
_FITTED = ("_net", "coefs_", "intercepts_", "n_features_in_", "n_outputs_", "n_layers_",
           "out_activation_")
_LABELS = ("classes_", "_label_binarizer")
# Arrays of θ's size: the optimizer's moments and velocity, the best weights so far.
_THETA_SIZED = (("_optimizer", "velocity"), ("_optimizer", "m"), ("_optimizer", "v"),
                (None, "_best_theta"))


def _check_consistent(estimator, state):
    """Raise _Invalid unless a fitted state's pieces agree; False for an unfitted one."""
    classifier = isinstance(estimator, ClassifierMixin)
    if not classifier and any(key in state for key in _LABELS):
        raise _Invalid(f"the state holds a classifier's labels (classes_), not an "
                       f"{type(estimator).__name__}'s: a classifier saved under another name")
    if not any(key in state for key in _FITTED):
        return False
    missing = [key for key in _FITTED + (_LABELS if classifier else ()) if key not in state]
    if missing:
        raise _Invalid(f"the fitted state lacks {missing}"
                       + (" (a regressor's state saved as a classifier?)"
                          if classifier and "classes_" in missing else ""))
    net = state["_net"]
    if not isinstance(net, Network):
        raise _Invalid(f"_net must be the network's state (a dict), got {type(net).__name__}")
    _check_architecture(state, net.layout)
    if classifier:
        _check_labels(state)
    _check_output(estimator, state, net)
    return True


def _shape(a):
    return tuple(a.shape) if _array_api.is_array(a) else None


def _check_architecture(state, layout):
    """n_features_in_, n_outputs_, n_layers_, hidden_layer_sizes, the weights vs layer sizes."""
    units = list(layout.layer_units)
    sizes = state.get("hidden_layer_sizes", units[1:-1])
    sizes = list(sizes) if isinstance(sizes, (list, tuple, np.ndarray)) else [sizes]
    for key, stored, expected in (("n_features_in_", state["n_features_in_"], units[0]),
                                  ("n_outputs_", state["n_outputs_"], units[-1]),
                                  ("n_layers_", state["n_layers_"], len(units)),
                                  ("hidden_layer_sizes", sizes, units[1:-1])):
        if not _equal(stored, expected):
            raise _Invalid(f"{key} is {stored!r} but the network's layer sizes {units} "
                           f"make it {expected!r}")
    coefs, intercepts = state["coefs_"], state["intercepts_"]
    params = [*coefs, *intercepts] if isinstance(coefs, list) and isinstance(
        intercepts, list) else []
    expected = [*layout.coef_shapes, *((n,) for n in units[1:])]
    if len(coefs) != layout.n_layers or [_shape(p) for p in params] != expected:
        raise _Invalid(f"coefs_ and intercepts_ no longer match the fitted architecture "
                       f"{units}: expected shapes {expected}, got "
                       f"{[_shape(p) for p in params] or (type(coefs), type(intercepts))}")
    for owner, key in _THETA_SIZED:
        holder = state if owner is None else getattr(state.get(owner), "__dict__", {})
        if key in holder and _shape(holder[key]) != (layout.size,):
            raise _Invalid(f"{owner or 'the state'}'s {key} has shape {_shape(holder[key])}, "
                           f"not ({layout.size},) as θ of layer sizes {units}")
    _check_real_floats({"coefs_": coefs, "intercepts_": intercepts})


def _equal(stored, expected):
    try:
        if not isinstance(expected, list):
            return bool(stored == expected)
        return len(stored) == len(expected) and all(
            bool(a == b) for a, b in zip(stored, expected, strict=True))
    except (TypeError, ValueError):
        return False


def _check_real_floats(named):
    for key, arrays in named.items():
        for i, a in enumerate(arrays):
            xp = _array_api.array_namespace(a)
            # Booleans and integers are real numbers: a user may assign them, and predict
            # and training take them as float64 (θ is repacked in float64 below).
            if not _array_api.is_real_dtype(a.dtype, xp):
                raise _Invalid(f"{key}[{i}] holds {a.dtype} values; weights are real "
                               "numbers")


def _check_labels(state):
    """classes_ vs the binarizer's and the number of outputs (binary: 2 labels, 1 output)."""
    binarizer, classes, n_outputs = (state[k] for k in ("_label_binarizer", "classes_",
                                                        "n_outputs_"))
    kind = getattr(binarizer, "y_type_", None)
    known = getattr(binarizer, "classes_", None)
    if not isinstance(binarizer, LabelBinarizer) or kind not in _OUTPUTS or _shape(known) is None:
        raise _Invalid(f"_label_binarizer must be a fitted LabelBinarizer of a binary, "
                       f"multiclass or multilabel target, got {binarizer!r}")
    if _shape(classes) is None or len(_shape(classes)) != 1 or not np.array_equal(
            _array_api.to_numpy(classes), known):
        raise _Invalid(f"classes_ {classes!r} differs from the label binarizer's {known!r}")
    if n_outputs != _OUTPUTS[kind](len(known)):
        raise _Invalid(f"{len(known)} classes_ and {n_outputs} output units do not fit a "
                       f"{kind} target (binary: 2 classes and 1 output; multiclass or "
                       "multilabel: one output per class)")


# The number of output units of a target of each kind with n labels (None: no such target).
_OUTPUTS = {"binary": lambda n: 1 if n == 2 else None, "multiclass": lambda n: n,
            "multilabel-indicator": lambda n: n}


def _check_output(estimator, state, net):
    """out_activation_ names σ_L, which suits the estimator (its own rule: _check_output)."""
    out, stored = net.output, state["out_activation_"]
    name = out.name if type(out) in ACTIVATIONS.values() else out
    if (isinstance(stored, str) or isinstance(name, str)) and stored != name:
        raise _Invalid(f"out_activation_ is {stored!r} but the network's output "
                           f"activation is {name!r}")
    probe = object.__new__(type(estimator))
    probe.__dict__.update(state)
    try:
        probe._check_output(net.loss, out)
    except ValueError as exc:
        raise _Invalid(f"the output activation does not suit an {type(estimator).__name__} "
                       f"with this state: {exc}") from exc
    _check_loss(probe, net)


def _check_loss(probe, net):
    """A built-in loss the parameters make is the fitted network's (a user's is the user's)."""
    try:
        made = probe._get_loss()
    except (ValueError, TypeError) as exc:
        raise _Invalid(f"its loss parameters make no loss: {exc}") from exc
    if not (type(made) in LOSSES.values() and type(net.loss) in LOSSES.values()):
        return
    # A log-loss over elementwise (one-vs-rest) outputs trains as the binary log-loss.
    if made != net.loss and not (isinstance(made, LogLoss) and isinstance(net.loss, BinaryLogLoss)):
        raise _Invalid(f"the loss parameters make {made!r} but the fitted network was trained "
                       f"with {net.loss!r}")


def _optimizer_from_state(params):
    params = dict(params)
    name = params.pop("class", None)
    cls = _OPTIMIZERS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise _Invalid(f"unknown optimizer {name!r} in _optimizer (this "
                       f"skfnn knows {sorted(_OPTIMIZERS)})")
    optimizer = object.__new__(cls)
    optimizer.__dict__.update({k: _from_spec(v) for k, v in params.items()})
    return optimizer


def _repack(state, layout):
    """θ packed from the state's (checked) coefs_ / intercepts_, which become its views."""
    params = [*state["coefs_"], *state["intercepts_"]]
    xp = _array_api.array_namespace(*params)
    dtype = xp.result_type(*params)
    if not _array_api.is_float(dtype, xp):  # bool / integer weights (a user's): float64
        dtype = xp.float64
    theta = _array_api.empty(layout.size, dtype, params[0])
    layout.pack(state["coefs_"], state["intercepts_"], out=theta)
    state["coefs_"], state["intercepts_"] = layout.unpack(theta)
    return theta


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
    kind, name, params = (spec.get(k) for k in ("__skfnn__", "name", "params"))
    registry = _REGISTRIES.get(kind)
    if registry is None or not isinstance(params, dict):
        raise _Invalid(f"a built-in piece is stored as {spec!r}, which this skfnn cannot "
                       "read (expected kind 'activation' or 'loss', a name and params)")
    if name not in registry:
        raise _Invalid(f"unknown {kind} {name!r} (this skfnn knows {sorted(registry)})")
    try:
        return registry[name](**params)
    except (TypeError, ValueError) as exc:
        raise _Invalid(f"the {kind} {name!r} does not take the stored parameters {params}: "
                       f"{exc}") from exc


def _network_state(net):
    return {"layer_units": [int(n) for n in net.layer_units],
            "sigmas": [_spec(s) for s in net.sigmas],
            "loss": _spec(net.loss), "alpha": float(net.alpha),
            "init_factors": [float(f) for f in net.init_factors],
            "dropout": list(net.dropout), "init": net.init}


_NET_KEYS = ("layer_units", "sigmas", "loss", "alpha", "init_factors", "dropout", "init")


def _network_from_state(state):
    missing = [key for key in _NET_KEYS if key not in state]
    if missing:
        raise _Invalid(f"the network state (_net) lacks {missing}")
    units = state["layer_units"]
    if not (isinstance(units, (list, tuple)) and len(units) >= 2 and all(
            isinstance(n, numbers.Integral) and not isinstance(n, bool) and n > 0
            for n in units)):
        raise _Invalid(f"_net's layer_units must be two or more positive integers, got {units!r}")
    L = len(units) - 1
    for key, n in (("sigmas", L), ("init_factors", L), ("dropout", L - 1)):
        if not isinstance(state[key], (list, tuple)) or len(state[key]) != n:
            raise _Invalid(f"_net's {key} must hold {n} entries for layer sizes {list(units)}, "
                           f"got {state[key]!r}")
    return Network(units, [_from_spec(s) for s in state["sigmas"]],
                   _from_spec(state["loss"]), state["alpha"],
                   init_factors=state["init_factors"], dropout=state["dropout"],
                   init=state["init"])

"""The fitted model: θ and its views, the curves, the best θ, the optimizer state.

A fitted estimator's model is its fitted attributes, as scikit-learn keeps
them (``coefs_``, ``intercepts_``, ``loss_curve_``, ``n_iter_``, ... on the
estimator, so that they pickle as plain data and read as in MLPClassifier);
this module owns their invariants and every write to them:

- θ (``_theta``) is one flat vector and ``coefs_`` / ``intercepts_`` are its
  views; the views are the source of truth: arrays a user assigned there are
  packed into a new θ before the model is used (:func:`theta`);
- :func:`start` initialises the model of a fresh fit, or checks that the
  network of a continued one has the fitted architecture and carries its
  bookkeeping over (:func:`resume`);
- :func:`rollback` / :func:`transactional` put everything back when a fit raises;
- :func:`record_epoch`, :func:`record_validation`, :func:`record_best_loss`,
  :func:`record_best_score` and :func:`record_lbfgs` are how the training hooks
  write what an epoch recorded;
- :func:`snapshot` (a callback's fitted estimator) and :func:`converted`
  (``move_estimator_to``) copy it.
"""

import contextlib
import copy as _copy
import functools

import numpy as np
from sklearn import get_config
from sklearn.base import clone

from . import _array_api
from ._array_api import all_finite, array_namespace, astype
from ._network import Network
from .activations import ACTIVATIONS

__all__ = [
    "begin_training",
    "check_coefs",
    "converted",
    "finite",
    "initialize",
    "promoted",
    "record_best_loss",
    "record_best_score",
    "record_epoch",
    "record_lbfgs",
    "record_no_improvement",
    "record_validation",
    "resume",
    "rollback",
    "snapshot",
    "start",
    "theta",
    "transactional",
]

# Fitted state that training changes in place (not by assignment): what a
# failed fit must put back. θ itself is restored into its own buffer.
_MUTATED_IN_PLACE = ("_optimizer", "loss_curve_", "validation_scores_",
                     "validation_loss_curve_", "_best_theta")


# ----------------------------------------------------------------------
# Starting and continuing
# ----------------------------------------------------------------------
def start(est, problem, random_state):
    """θ to train from: fresh weights for a fresh fit, else the fitted ones (checked)."""
    net = problem.net
    if problem.fresh:
        initialize(est, net, random_state, problem.X.dtype)
    else:
        resume(est, net)
    est._net = net
    return theta(est)


def initialize(est, net, random_state, dtype):
    """A new model: weights drawn for ``net``, empty curves, fresh bookkeeping."""
    est.n_iter_ = 0
    est.t_ = 0
    est.n_outputs_ = net.layer_units[-1]
    est.n_layers_ = len(net.layer_units)
    out = net.output
    est.out_activation_ = out.name if type(out) in ACTIVATIONS.values() else out
    est._net = net
    _set_theta(est, net.initial_theta(random_state, dtype))
    est.loss_curve_ = []
    est.validation_loss_curve_ = None
    est._no_improvement_count = 0
    est.__dict__.pop("_optimizer", None)
    est.__dict__.pop("_best_theta", None)
    if est.early_stopping:
        est._best_theta = _array_api.copy(est._theta)
        est.validation_scores_ = []
        est.best_validation_score_ = -np.inf
        est.best_loss_ = None
    else:
        est.best_loss_ = np.inf
        est.validation_scores_ = None
        est.best_validation_score_ = None


def resume(est, net):
    """Check that ``net`` continues the fitted network; carry the bookkeeping over."""
    fitted = est._net
    check_same_place(est, net, "continuing training (warm_start=True or partial_fit)")
    if net.layer_units != fitted.layer_units:
        raise ValueError(
            f"The network was fitted with layer sizes {list(fitted.layer_units)} "
            f"but this call needs {list(net.layer_units)}: hidden_layer_sizes, the "
            "number of features or the number of outputs changed. Continuing training "
            "(warm_start=True or partial_fit) needs the same architecture; call fit "
            "with warm_start=False to start afresh."
        )
    if not all(a is b or a == b for a, b in zip(net.sigmas, fitted.sigmas, strict=True)):
        raise ValueError(
            f"The network was fitted with activations {list(fitted.sigmas)} but the "
            f"parameters now give {list(net.sigmas)}. Continuing training "
            "(warm_start=True or partial_fit) needs the same activations."
        )
    _switch_stopping_mode(est)


def _switch_stopping_mode(est):
    """Continue a fit in a mode (early stopping or not) the last fit did not use."""
    if est.early_stopping:
        if est.validation_scores_ is None:  # X_val without early stopping makes a list
            est.validation_scores_ = []
        if est.best_validation_score_ is None:
            est.best_validation_score_, est.best_loss_ = -np.inf, None
        if not hasattr(est, "_best_theta"):  # the weights so far are the best so far
            est._best_theta = _array_api.copy(est._theta)
    else:
        est.__dict__.pop("_best_theta", None)
        if est.best_loss_ is None:
            est.best_loss_ = np.inf


def validation_curves(est):
    """Make sure the validation curves are lists (a fit with validation data appends)."""
    if est.validation_scores_ is None:
        est.validation_scores_ = []
    if est.validation_loss_curve_ is None:
        est.validation_loss_curve_ = []


# ----------------------------------------------------------------------
# θ and coefs_ / intercepts_
# ----------------------------------------------------------------------
def _set_theta(est, theta):
    """Expose θ as ``coefs_`` / ``intercepts_`` (views, so they stay current)."""
    est._theta = theta
    est.coefs_, est.intercepts_ = est._net.layout.unpack(theta)


def theta(est):
    """θ, re-packed if the user replaced or re-shaped coefs_ / intercepts_.

    ``coefs_`` and ``intercepts_`` are the model; θ is only a cache of them.
    While they are θ's own views, training updates them in place; arrays the
    user assigned there are packed into a new θ first.
    """
    current = est._theta
    expected = check_coefs(est)
    params = [*est.coefs_, *est.intercepts_]
    if all(_array_api.is_view(p, v, current) for p, v in zip(params, expected, strict=True)):
        return current
    xp = array_namespace(current)
    dtype = xp.result_type(*params)
    if not _array_api.is_float(dtype, xp):  # integer or bool weights assigned by hand
        dtype = _array_api.default_float(current)
    packed = _array_api.empty(current.shape[0], dtype, current)
    _set_theta(est, est._net.layout.pack(est.coefs_, est.intercepts_, out=packed))
    return packed


def check_coefs(est):
    """Raise ValueError unless coefs_ / intercepts_ are a usable model; return θ's views.

    They must have the fitted architecture's shapes and hold finite real
    numbers: NaN weights would make every prediction the same class, and
    complex ones complex probabilities.
    """
    Ws, bs = est._net.layout.unpack(est._theta)
    expected = Ws + bs
    params = [*est.coefs_, *est.intercepts_]
    shapes = [tuple(getattr(p, "shape", np.shape(p))) for p in params]
    if len(est.coefs_) != len(Ws) or shapes != [tuple(v.shape) for v in expected]:
        raise ValueError(
            "coefs_ and intercepts_ no longer match the fitted architecture "
            f"{list(est._net.layer_units)}: expected shapes "
            f"{[tuple(v.shape) for v in expected]}, got {shapes}."
        )
    names = [f"coefs_[{i}]" for i in range(len(Ws))] + \
            [f"intercepts_[{i}]" for i in range(len(bs))]
    for name, p in zip(names, params, strict=True):
        _check_weight(name, p, est._theta)
    return expected


def _check_weight(name, p, theta):
    """Raise ValueError unless the weight array p can stand beside θ in the model."""
    xp = array_namespace(theta)
    if not _array_api.is_array(p) or array_namespace(p) is not xp:
        kind, make = _array_api.describe_namespace(xp)
        raise ValueError(f"{name} is a {type(p).__name__}; the weights must be {kind} "
                         f"arrays (assign {make}.asarray(...) to {name}).")
    if not _array_api.is_real(p):
        raise ValueError(f"{name} has dtype {p.dtype}; the weights must be real "
                         "floating-point numbers.")
    if not all_finite(p):
        raise ValueError(f"{name} contains non-finite values (nan or inf); the model cannot "
                         "predict with them.")


def check_same_place(est, target, action):
    """Raise ValueError unless ``target`` (X or a new network) lives where θ does."""
    theta_ = est._theta
    xp, dev = array_namespace(theta_), _array_api.device(theta_)
    if isinstance(target, Network):
        other_xp, other_dev = target.xp, target.device
    else:
        other_xp, other_dev = array_namespace(target), _array_api.device(target)
    if other_xp is xp and other_dev == dev:
        return
    where = _array_api.describe_place(xp, dev)
    # scikit-learn 1.9 has the helper only in a private module, with no public name yet.
    move = ("move the model first with scikit-learn's move_estimator_to(estimator, xp, "
            "device) (not public in scikit-learn 1.9: import it from "
            "sklearn.utils._array_api; see skfnn's docs/array_api.md, 'Moving and saving "
            "a model').")
    if _array_api.needs_dispatch(xp) and not get_config()["array_api_dispatch"]:
        # Without dispatch scikit-learn's validation turned X into numpy, whatever it was.
        raise ValueError(
            f"{type(est).__name__} was fitted on {where}, under array_api_dispatch; "
            f"{action} without it sees numpy data. Call it inside "
            "sklearn.config_context(array_api_dispatch=True) with data of that namespace "
            f"and device, or {move}")
    raise ValueError(
        f"{type(est).__name__} was fitted on {where}; {action} needs data of the "
        "same namespace and device (under array_api_dispatch=True for any namespace but "
        f"numpy). Or {move}")


# ----------------------------------------------------------------------
# What training records
# ----------------------------------------------------------------------
def begin_training(est):
    """A fit (or partial_fit) call begins: ``n_iter_`` counts its epochs, as scikit-learn's."""
    est.n_iter_ = 0


def record_epoch(est, loss, samples):
    """An epoch (L-BFGS iteration) ended with training loss ``loss`` over ``samples`` rows."""
    est.n_iter_ += 1
    est.t_ += samples
    est.loss_ = loss
    est.loss_curve_.append(loss)


def record_validation(est, loss, score):
    """The validation loss and score of the epoch that just ended."""
    est.validation_loss_curve_.append(loss)
    est.validation_scores_.append(score)


def record_best_loss(est, loss):
    """``best_loss_``: the lowest training loss so far."""
    if loss < est.best_loss_:
        est.best_loss_ = loss


def record_best_score(est, score, theta_now):
    """``best_validation_score_`` and the best weights, when ``score`` beats it."""
    if score > est.best_validation_score_:
        est.best_validation_score_ = score
        est._best_theta[...] = theta_now


def record_no_improvement(est, improved):
    """Count an epoch without improvement (or restart the count); return the count."""
    est._no_improvement_count = 0 if improved else est._no_improvement_count + 1
    return est._no_improvement_count


def record_lbfgs(est, result, max_iter, first_loss):
    """n_iter_, loss_ and best_loss_ from scipy's result (None: interrupted by Ctrl-C)."""
    if result is not None:  # None after Ctrl-C: the curve has the iterations that ran
        est.n_iter_ = min(result.nit, max_iter)
        est.loss_ = float(result.fun)
    elif not est.loss_curve_:
        est.loss_ = first_loss
    est.best_loss_ = min(est.loss_curve_, default=est.loss_)


# ----------------------------------------------------------------------
# Prediction
# ----------------------------------------------------------------------
def promoted(est, X):
    """X and the weights in their common dtype, as numpy's products promote them.

    numpy's matrix products promote (a float32 model predicts float64 X in
    float64); the array API's ``@`` needs one dtype, so X and the weights are
    cast to it (a copy of the weights only when the dtypes differ).
    """
    Ws, bs = est.coefs_, est.intercepts_
    if _array_api.promotes_in_products(est._theta) or X.dtype == est._theta.dtype:
        return X, Ws, bs
    dtype = array_namespace(est._theta).result_type(X.dtype, est._theta.dtype)
    return (astype(X, dtype), [astype(W, dtype) for W in Ws],
            [astype(b, dtype) for b in bs])


def finite(output):
    """The network's outputs, unless some are not finite (then no prediction is right)."""
    if not all_finite(output):
        xp = array_namespace(output)
        rows = int(xp.sum(astype(xp.any(~xp.isfinite(output), axis=1), xp.int64)))
        raise ValueError(
            f"The network's outputs are non-finite (nan or inf) for {rows} of "
            f"{output.shape[0]} rows: an activation overflowed or returned nan there, so "
            "no prediction can be made for them. Check the input's scale (and any custom "
            "activation)."
        )
    return output


# ----------------------------------------------------------------------
# Rollback and copies
# ----------------------------------------------------------------------
@contextlib.contextmanager
def rollback(est):
    """On any exception, put the estimator back exactly as it was, then re-raise.

    Ctrl-C inside the training loop does not get here: the loop keeps the
    partly trained model with a warning, as scikit-learn does.
    """
    saved = dict(est.__dict__)
    theta_ = saved.get("_theta")
    theta_before = None if theta_ is None else _array_api.copy(theta_)
    # The curves are lists of floats: a shallow copy is a snapshot, and a deep one
    # would cost partial_fit time that grows with the number of calls so far.
    mutable = {k: list(saved[k]) if isinstance(saved[k], list) else _copy.deepcopy(saved[k])
               for k in _MUTATED_IN_PLACE if k in saved}
    try:
        yield
    except BaseException:
        est.__dict__.clear()
        est.__dict__.update(saved)
        if theta_ is not None:
            theta_[...] = theta_before  # coefs_ / intercepts_ are its views
        for key, before in mutable.items():
            # The very objects a user may hold (est.loss_curve_), with their contents.
            if isinstance(before, list):
                saved[key][:] = before
            elif _array_api.is_array(before):
                saved[key][...] = before
            else:
                est.__dict__[key] = before
        raise


def transactional(method):
    """``fit`` / ``partial_fit`` undone on any exception (:func:`rollback`).

    The outermost decorator, so that everything the call runs is inside the
    rollback: the callbacks' setup and teardown (``with_callbacks``) and the
    root task's begin and end included, not only the training.
    """
    @functools.wraps(method)
    def undone_on_error(self, *args, **kwargs):
        with rollback(self):
            return method(self, *args, **kwargs)
    return undone_on_error


def snapshot(est, net, theta_now):
    """Fitted attributes that make a copy of the estimator predict with θ as it is now."""
    theta_copy = _array_api.copy(theta_now)
    coefs, intercepts = net.layout.unpack(theta_copy)
    return {"_theta": theta_copy, "coefs_": coefs, "intercepts_": intercepts,
            "loss_curve_": list(est.loss_curve_), "n_iter_": est.n_iter_}


def converted(est, converter):
    """A copy of ``est`` with its arrays converted (``move_estimator_to``).

    scikit-learn's conversion would copy ``coefs_`` and ``intercepts_`` apart
    from θ, whose views they are; here θ is converted once and its views
    rebuilt, the optimizer's state and the best weights follow, the network
    takes the new namespace and device, and numeric ``classes_`` move too
    (string labels are numpy arrays wherever the model is).
    """
    new = clone(est)
    state = dict(est.__dict__)
    # A copy of each: a conversion may share memory (DLPack), and training writes in place.
    converter = _copying(converter)
    if "_theta" in state:
        moved = converter(theta(est))  # θ as the coefs_ the user may have assigned
        state["_theta"] = moved
        state["_net"] = est._net.replace(xp=array_namespace(moved),
                                         device=_array_api.device(moved))
        state["coefs_"], state["intercepts_"] = state["_net"].layout.unpack(moved)
    for key in ("_best_theta", "_optimizer"):
        if key in state:
            state[key] = _converted_value(state[key], converter)
    labels = state.get("classes_")
    if _array_api.is_array(labels) and _array_api.is_real(labels):
        state["classes_"] = converter(labels)
    new.__dict__.update(state)
    return new


def _copying(converter):
    return lambda array: _array_api.copy(converter(array))


def _converted_value(value, converter):
    """An optimizer (a copy, with its arrays converted) or an array, converted."""
    if _array_api.is_array(value):
        return converter(value)
    new = _copy.copy(value)
    new.__dict__ = {k: converter(v) if _array_api.is_array(v) else v
                    for k, v in vars(value).items()}
    return new

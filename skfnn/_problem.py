"""The training problem: what one fit trains, on what, validated in one place.

:func:`build` turns an estimator's parameters and the data of a ``fit`` /
``partial_fit`` call into a :class:`Problem`: X, the encoded targets Y, the
sample weights (class weights folded in), the network being trained
(:class:`~skfnn._network.Network`: layer sizes, activations, loss and its
output head, α, dropout, initialisation) and the validation set. Every check
of the user's input and of the parameters that shape the network lives here,
for in-memory data and for Dask's stand-in alike (skfnn/_dask.py), so that
both paths raise the same errors.

The estimator supplies only what differs between a regressor and a
classifier, through its hooks: ``_validate_input`` (X and the encoded y),
``_encode_validation_target``, ``_class_weigher``, ``_get_loss``,
``_default_out_activation`` and ``_check_output``.
"""

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from . import _array_api
from ._array_api import array_namespace, astype, fit_namespace, on_device, to_numpy
from ._network import Network
from ._sklearn_compat import _check_sample_weight, _num_samples, validate_data
from .activations import ACTIVATIONS, get_activation
from .activations import optional as activation_optional
from .losses import BinaryLogLoss, LogLoss
from .losses import optional as loss_optional

__all__ = ["STOCHASTIC_SOLVERS", "X_RULES", "Problem", "ValidationSet", "build",
           "checked_weights", "weighted", "x_rules"]

STOCHASTIC_SOLVERS = ("sgd", "adam", "adamw", "rmsprop")
# Sparse X is accepted (numpy only); float32 stays float32, anything else becomes
# float64 (or float32 on a device without float64: see x_rules).
X_RULES = dict(accept_sparse=["csr", "csc"], dtype=(np.float64, np.float32))
# Hidden layers take any elementwise built-in (softmax is an output activation only).
_HIDDEN_ACTIVATIONS = {k: v for k, v in ACTIVATIONS.items() if v.elementwise}


@dataclass(frozen=True)
class ValidationSet:
    """The held-out data a fit scores after each epoch.

    Attributes
    ----------
    X : ndarray or sparse matrix
        Validated, in the training data's dtype.
    Y : ndarray
        The targets encoded as the training Y (2-D; bool for a classifier).
    y : array-like
        The targets as scorers take them (a classifier's labels).
    sample_weight : ndarray or None
    X_user : array-like
        X as the user passed it (a DataFrame keeps its column names for scorers).
    """

    X: object
    Y: object
    y: object
    sample_weight: object
    X_user: object


@dataclass(frozen=True)
class Problem:
    """One fit's training problem, in X's namespace and on its device.

    Attributes
    ----------
    X : ndarray or sparse matrix
        Validated; in θ's dtype when training continues.
    Y : ndarray
        The encoded targets, 2-D (bool for a classifier: cast to θ's dtype where used).
    sample_weight : ndarray or None
        s_i with the class weights folded in.
    net : Network
        The network being trained.
    validation : ValidationSet or None
        X_val / y_val, validated like X and y (an early-stopping split is drawn later,
        by the training loop's set-up, from the random state).
    fresh : bool
        True when the weights start afresh (a first fit, or ``warm_start=False``);
        False when training continues from the fitted ones.
    """

    X: object
    Y: object
    sample_weight: object
    net: Network
    validation: ValidationSet = None
    fresh: bool = True


def build(est, X, y, sample_weight, *, incremental, classes=None, validation=None):
    """The :class:`Problem` of ``est.fit(X, y, sample_weight)`` (or ``partial_fit``).

    Raises ValueError, naming the parameter, for input or parameters that
    cannot make a network.
    """
    fresh = not hasattr(est, "coefs_") or (not est.warm_start and not incremental)
    X, Y, labels = est._validate_input(X, y, incremental, reset=fresh, classes=classes)
    if not fresh:
        X = in_dtype_of(X, est._theta)
    sample_weight = checked_weights(sample_weight, X, "sample_weight")
    weigh = est._class_weigher(labels, Y, to_numpy(sample_weight), incremental)
    sample_weight = weighted(sample_weight, X, weigh, labels, Y)
    Y = as_columns(Y)
    validation = validation_set(est, validation, X.dtype, Y.shape[1], weigh)
    net = network(est, X, Y)  # checks Y against the loss (a classifier's on the host)
    return Problem(X, on_device(Y, X), sample_weight, net, validation, fresh)


# ----------------------------------------------------------------------
# The network: layer sizes, activations, loss and output head, dropout
# ----------------------------------------------------------------------
def network(est, X, Y):
    """The network ``est``'s parameters make for X (validated) and the targets Y (2-D)."""
    hidden_sizes = _hidden_sizes(est.hidden_layer_sizes)
    hidden = _hidden_activations(est.activation, len(hidden_sizes))
    loss, out = _output(est, Y)
    xp, device = array_namespace(X), _array_api.device(X)
    _array_api.check_trainable(xp, device)
    # The loss's output head: outputs_per_target network outputs for each target.
    n_outputs = Y.shape[1] * loss_optional(loss, "outputs_per_target")
    return Network([X.shape[1], *hidden_sizes, n_outputs], [*hidden, out], loss,
                   est.alpha, init_factors=_init_factors(est.activation, hidden),
                   dropout=_dropout_rates(est.dropout, est.solver, len(hidden_sizes)),
                   init=est.init, xp=xp, device=device)


def _hidden_sizes(sizes):
    sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
    if not all(isinstance(n, Integral) and not isinstance(n, (bool, np.bool_)) and n > 0
               for n in sizes):
        raise ValueError(f"hidden_layer_sizes must contain positive integers only, got {sizes}.")
    return [int(n) for n in sizes]


def _hidden_activations(spec, n_hidden):
    if isinstance(spec, str) or not hasattr(spec, "__iter__"):
        spec = [spec] * n_hidden
    elif len(spec) != n_hidden:
        raise ValueError(
            f"activation has {_count(len(spec), 'entry', 'entries')} but there "
            f"{_hidden_layers(n_hidden)}; give one activation per hidden layer, or a "
            "single one."
        )
    if any(isinstance(s, str) and s in ACTIVATIONS and s not in _HIDDEN_ACTIVATIONS
           for s in spec):
        raise ValueError(
            "softmax is not elementwise and can only be the output activation "
            "(out_activation) of a multiclass classifier."
        )
    sigmas = [get_activation(s, "activation", _HIDDEN_ACTIVATIONS) for s in spec]
    if not all(activation_optional(s, "elementwise") for s in sigmas):
        raise ValueError(
            "A hidden activation must be elementwise; got one whose attribute "
            "elementwise is False. Non-elementwise activations (softmax) can only be "
            "the output activation of a multiclass classifier."
        )
    return sigmas


def _init_factors(spec, hidden):
    # As scikit-learn: each layer is initialised for the hidden activation,
    # the output layer for the last hidden one.
    factor = [activation_optional(s, "init_factor") for s in hidden]
    if hidden:
        return factor + factor[-1:]
    single = spec if not hasattr(spec, "__iter__") or isinstance(spec, str) else "relu"
    return [activation_optional(get_activation(single), "init_factor")]


def _output(est, Y):
    """(loss, output activation) for this task, validated, and Y checked against the loss."""
    loss = est._get_loss()
    if est.out_activation == "auto":
        out = get_activation(est._default_out_activation(loss), "out_activation")
    else:
        out = get_activation(est.out_activation, "out_activation")
    if isinstance(loss, LogLoss) and activation_optional(out, "elementwise"):
        # With an elementwise output each unit is its own Bernoulli variable.
        loss = BinaryLogLoss()
    if not activation_optional(out, "elementwise") and activation_optional(out, "vjp") is None:
        raise ValueError(
            f"out_activation={out!r} is not elementwise, so it needs a method "
            "vjp(z, a, g) returning (∂a/∂z)ᵀ g for each row (see docs/extending.md)."
        )
    est._check_output(loss, out)
    check_target = loss_optional(loss, "check_target")
    if check_target is not None:
        check_target(Y)
    return loss, out


def _dropout_rates(rates, solver, n_hidden):
    """p_l for each hidden layer, from a single rate or one per layer."""
    if not hasattr(rates, "__iter__"):
        rates = [rates] * n_hidden
    elif len(rates) != n_hidden:
        raise ValueError(f"dropout has {_count(len(rates), 'entry', 'entries')} but there "
                         f"{_hidden_layers(n_hidden)}; give one rate per hidden layer, "
                         "or a single one.")
    if not all(isinstance(p, Real) and 0 <= p < 1 for p in rates):
        raise ValueError(f"dropout rates must lie in [0, 1); got {list(rates)}.")
    if any(rates) and solver not in STOCHASTIC_SOLVERS:
        raise ValueError(
            f"dropout needs a stochastic solver (one of {', '.join(STOCHASTIC_SOLVERS)}): "
            "it makes the objective random, and L-BFGS's line search compares objective "
            "values, which a new mask at every evaluation would make meaningless."
        )
    return [float(p) for p in rates]


def _count(n, one, many):
    return f"{n} {one if n == 1 else many}"


def _hidden_layers(n):
    """'is 1 hidden layer', 'are 2 hidden layers'."""
    return f"{'is' if n == 1 else 'are'} {_count(n, 'hidden layer', 'hidden layers')}"


# ----------------------------------------------------------------------
# The data: weights, targets, validation set
# ----------------------------------------------------------------------
def validation_set(est, validation, dtype, n_targets, weigh=None):
    """X_val, y_val and sample_weight_val validated like X, y and sample_weight."""
    if validation is None or (validation[0] is None and validation[1] is None):
        if validation is not None and validation[2] is not None:
            raise ValueError("sample_weight_val was given without X_val and y_val.")
        return None
    X_user, y_user, sw_val = validation
    if X_user is None or y_user is None:
        raise ValueError("X_val and y_val must be given together (got only "
                         f"{'X_val' if y_user is None else 'y_val'}).")
    X_val = astype(validate_data(est, X_user, reset=False, **x_rules(X_user)), dtype)
    if _num_samples(y_user) != X_val.shape[0]:
        raise ValueError(f"X_val has {X_val.shape[0]} samples but y_val has "
                         f"{_num_samples(y_user)}.")
    Y_val, labels = est._encode_validation_target(y_user, X_val)
    sw_val = checked_weights(sw_val, X_val, "sample_weight_val")
    sw_val = weighted(sw_val, X_val, weigh, labels, Y_val)  # as training is weighted
    Y_val = as_columns(on_device(Y_val, X_val))
    if Y_val.shape[1] != n_targets:
        raise ValueError(f"y_val has {Y_val.shape[1]} outputs but y has {n_targets}.")
    return ValidationSet(X_val, Y_val, labels, sw_val, X_user)


def checked_weights(sample_weight, X, name):
    """Weights s_i ≥ 0 with a positive sum, in X's dtype, namespace and device (None stays None)."""
    if sample_weight is None:
        return None
    sample_weight = _check_sample_weight(_array_api.follow(X, sample_weight), X,
                                         ensure_non_negative=True)
    if not _array_api.sum(sample_weight) > 0:
        raise ValueError(f"{name} sums to zero: at least one sample must have a positive "
                         "weight.")
    return sample_weight


def weighted(sample_weight, X, weigh, labels, Y):
    """s_i times the class weight of sample i, as scikit-learn's LogisticRegression folds it."""
    if weigh is None:
        return sample_weight
    factor = on_device(weigh(labels, to_numpy(Y)), X, dtype=X.dtype)
    if sample_weight is None:
        return factor
    return sample_weight * factor


def in_dtype_of(X, theta):
    """X in θ's dtype, to continue training (partial_fit, warm_start) in θ's precision.

    numpy's products cast into θ's buffers; the array API's ``@`` needs one dtype.
    """
    if _array_api.promotes_in_products(theta) or array_namespace(X) is not array_namespace(
            theta) or X.dtype == theta.dtype:
        return X
    return astype(X, theta.dtype)


def as_columns(Y):
    """Y as a matrix: one column per output."""
    return array_namespace(Y).reshape(Y, (-1, 1)) if Y.ndim == 1 else Y


def x_rules(X):
    """validate_data's rules for X: :data:`X_RULES` with the float dtypes of X's namespace."""
    return {**X_RULES, "dtype": fit_namespace(X)[2]}

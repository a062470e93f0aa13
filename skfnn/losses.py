"""Loss functions ℓ(y, a) and the output error δ^L = ∂ℓ/∂z^L.

Convention: ℓ is the loss of one sample, **summed over its outputs** (for squared
error exactly the derivation's ½‖a − y‖²); a loss object called on a batch
returns the (weighted) mean of ℓ over the samples. This is the quantity the
gradient descends and the one reported in ``loss_curve_``.

A loss owns δ^L. Its default :meth:`Loss.delta` is the general chain rule
δ^L = (∂a/∂z)ᵀ ∂ℓ/∂a: ``gradient(y, a) * activation.derivative(z, a)`` for an
elementwise output activation, the activation's Jacobian-vector product
(:func:`skfnn.activations.vjp`) for softmax. Canonical pairs (loss, link)
override it with the exact, numerically stable shortcut δ^L = a − y.

The built-ins compute in the namespace of their inputs (numpy, or under
scikit-learn's ``array_api_dispatch`` PyTorch, CuPy or array-api-strict; see
:func:`skfnn.array_namespace`).
"""

import numpy as np

from . import _array_api
from ._array_api import array_namespace
from ._array_api import sum as _sum
from ._params import Parametrised, lookup
from ._params import optional as _optional
from .activations import Exp, Identity, Logistic, Softmax
from .activations import vjp as _vjp

__all__ = [
    "LOSSES",
    "OPTIONAL_ATTRIBUTES",
    "AbsoluteError",
    "BinaryLogLoss",
    "HuberLoss",
    "LogLoss",
    "Loss",
    "PoissonLoss",
    "SquaredError",
    "get_loss",
    "optional",
]


class Loss(Parametrised):
    """Base class of a loss ℓ(y, a) with its gradient and output error δ^L.

    Subclasses implement :meth:`per_sample` (or :meth:`pointwise`, the loss
    of each output, which the built-ins use) and :meth:`gradient`; canonical
    pairs also override :meth:`delta`.

    Attributes
    ----------
    name : str
        The registry name.
    default_out_activation : str
        The output activation used when the estimator's ``out_activation`` is
        ``"auto"`` (the loss's canonical link).
    canonical_link : type or None
        The activation class for which δ^L = a − y exactly.
    kinks : tuple of float
        Residuals a − y where ∂ℓ/∂a jumps (or bends), skipped by gradient checks.

    Every attribute, and ``check_target``, is optional: an object without one
    gets the default listed in :data:`OPTIONAL_ATTRIBUTES`.

    Examples
    --------
    A custom loss, ℓ = ¼ Σ_k (a_k − y_k)⁴:

    >>> import numpy as np
    >>> from skfnn.losses import Loss
    >>> class Quartic(Loss):
    ...     name = "quartic"
    ...     def per_sample(self, y, a):
    ...         return 0.25 * ((a - y) ** 4).sum(axis=1)
    ...     def gradient(self, y, a):
    ...         return (a - y) ** 3
    >>> float(Quartic()(np.array([[0.0], [1.0]]), np.array([[2.0], [1.0]])))
    2.0
    """

    name = "loss"
    default_out_activation = "identity"
    canonical_link = None
    #: Residuals a − y where ∂ℓ/∂a jumps (or bends); see gradient checks.
    kinks = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # A subclass that redefines per_sample must not inherit a parent's
        # pointwise, which __call__ would otherwise prefer.
        if "per_sample" in vars(cls) and "pointwise" not in vars(cls):
            cls.pointwise = Loss.pointwise

    def per_sample(self, y, a):
        """Return ℓ(y_i, a_i) for every row i, summed over outputs: shape (n,).

        By default the row sums of :meth:`pointwise`; implement one of the two.
        """
        return _sum(self.pointwise(y, a), axis=1)

    def pointwise(self, y, a):
        """Optional: the loss of every sample and output, shape (n, k); ℓ_i is a row sum."""
        raise NotImplementedError

    def __call__(self, y, a, sample_weight=None):
        """Return Σ_i s_i ℓ(y_i, a_i) / Σ_i s_i (the plain mean without weights).

        A loss with ``pointwise`` is summed as scikit-learn's MLP sums it: the
        (weighted) mean of each output's column, then the sum over outputs, so
        that the same outputs give the same value to the last bit.
        """
        if type(self).pointwise is not Loss.pointwise:
            P = self.pointwise(y, a)
            total = P.shape[0]
            if sample_weight is not None:
                P = P * sample_weight[:, None]
                total = _sum(sample_weight)
            if P.shape[1] == 1:  # one column: its sum, bit for bit, in one reduction
                return _sum(P) / total
            return _sum(_sum(P, axis=0) / total)
        per_sample = self.per_sample(y, a)
        if sample_weight is None:
            return _sum(per_sample) / per_sample.shape[0]
        return _array_api.dot(sample_weight, per_sample) / _sum(sample_weight)

    def gradient(self, y, a):
        """Return ∂ℓ_i/∂a_i, one row per sample."""
        raise NotImplementedError

    def delta(self, y, z, a, activation):
        """Return δ^L = ∂ℓ_i/∂z_i, one row per sample.

        The general chain rule δ^L = (∂a/∂z)ᵀ ∂ℓ/∂a: ∂ℓ/∂a ⊙ σ'(z) for an
        elementwise output, a ⊙ (g − ⟨g, a⟩) for softmax (the activation's
        ``vjp``). For the canonical link the factors cancel to a − y, which
        is exact and avoids dividing by σ'(z) ≈ 0 in saturated units.
        """
        # The exact type: a subclass may compute another function.
        if self.canonical_link is not None and type(activation) is self.canonical_link:
            return a - y
        return _vjp(activation, z, a, self.gradient(y, a))

    def check_target(self, y):
        """Raise ValueError if the target y lies outside the loss's domain."""


class SquaredError(Loss):
    """ℓ = ½ Σ_k (a_k − y_k)², ∂ℓ/∂a = a − y; canonical link: identity."""

    name = "squared_error"
    canonical_link = Identity

    def pointwise(self, y, a):
        r = a - y
        return 0.5 * (r * r)

    def gradient(self, y, a):
        return a - y


class AbsoluteError(Loss):
    """ℓ = Σ_k |a_k − y_k|, ∂ℓ/∂a = sign(a − y) (0 at the kink)."""

    name = "absolute_error"
    kinks = (0.0,)

    def pointwise(self, y, a):
        return array_namespace(a).abs(a - y)

    def gradient(self, y, a):
        return array_namespace(a).sign(a - y)


class HuberLoss(Loss):
    """ℓ = Σ_k h(a_k − y_k), h(r) = ½ r² if |r| ≤ t else t (|r| − ½ t).

    ∂ℓ/∂a = clip(a − y, −t, t). Quadratic near 0, linear in the tails, so
    outliers pull with a bounded force.

    Parameters
    ----------
    threshold : float, default=1.0
        The residual t where the loss turns from quadratic to linear.
    """

    name = "huber"

    def __init__(self, threshold=1.0):
        self.threshold = threshold

    @property
    def kinks(self):
        return (-self.threshold, self.threshold)

    def pointwise(self, y, a):
        xp = array_namespace(a)
        r = xp.abs(a - y)
        t = self.threshold
        return xp.where(r <= t, 0.5 * r**2, t * (r - 0.5 * t))

    def gradient(self, y, a):
        return array_namespace(a).clip(a - y, -self.threshold, self.threshold)


class PoissonLoss(Loss):
    """Half Poisson deviance: ℓ = Σ_k y log(y/a) − y + a, ∂ℓ/∂a = 1 − y/a.

    Canonical link: exp, for which δ^L = a − y. Targets must be non-negative.
    """

    name = "poisson"
    default_out_activation = "exp"
    canonical_link = Exp

    def pointwise(self, y, a):
        return _array_api.xlogy(y, y / a) - y + a

    def gradient(self, y, a):
        return 1 - y / a

    def check_target(self, y):
        if array_namespace(y).any(y < 0):
            raise ValueError(
                "Some value(s) of y are negative, which is not allowed for the "
                "poisson loss."
            )


def _clip_probability(a):
    # As scikit-learn: keeps log finite where a probability rounds to 0 or 1.
    # (numpy's ndarray.clip is np.clip, without np.clip's dispatch: ~2 µs a batch.)
    if isinstance(a, np.ndarray):
        eps = np.finfo(a.dtype).eps
        return a.clip(eps, 1 - eps)
    xp = array_namespace(a)
    eps = xp.finfo(a.dtype).eps
    return xp.clip(a, eps, 1 - eps)


def _y_log(y, a):
    """y log a, for clipped (hence positive) probabilities a.

    numpy: through scipy's xlogy, whose log is the C library's, as scikit-learn's MLP
    computes it. numpy's own ``log`` is vectorised with AVX-512 where the CPU has it,
    and there differs from the C library's in the last bit for a few percent of
    probabilities near 1: J would then differ from scikit-learn's in its last bit,
    which L-BFGS's line search amplifies into another path (docs/differences.md).
    """
    if isinstance(a, np.ndarray):
        return _array_api.xlogy(y, a)
    return y * array_namespace(a).log(a)


class BinaryLogLoss(Loss):
    """ℓ = −Σ_k [y_k log a_k + (1 − y_k) log(1 − a_k)]: binary and multilabel.

    ∂ℓ/∂a = (a − y) / (a (1 − a)); canonical link: logistic, δ^L = a − y.
    Probabilities are clipped to [eps, 1 − eps] in the loss, as scikit-learn.
    """

    name = "binary_log_loss"
    default_out_activation = "logistic"
    canonical_link = Logistic

    def pointwise(self, y, a):
        a = _clip_probability(a)
        return -(_y_log(y, a) + _y_log(1 - y, 1 - a))

    def gradient(self, y, a):
        a = _clip_probability(a)
        return (a - y) / (a * (1 - a))

    def check_target(self, y):
        if array_namespace(y).any((y < 0) | (y > 1)):
            raise ValueError("The targets of a log-loss must lie in [0, 1].")


class LogLoss(Loss):
    """Multinomial log-loss ℓ = −Σ_k y_k log a_k, with a softmax output.

    ∂ℓ/∂a = −y / a; with the canonical softmax link δ^L = a − y (the softmax
    Jacobian fused into the shortcut). Given a logistic or other elementwise
    output, the estimator uses :class:`BinaryLogLoss` instead, as
    scikit-learn does (one-vs-rest for a multiclass target).
    """

    name = "log_loss"
    default_out_activation = "softmax"
    canonical_link = Softmax

    def pointwise(self, y, a):
        return -_y_log(y, _clip_probability(a))

    def gradient(self, y, a):
        return -y / _clip_probability(a)

    def check_target(self, y):
        BinaryLogLoss.check_target(self, y)


#: The optional attributes of a loss, and the default each takes when an object
#: lacks it (see :class:`Loss`): a plain object with ``__call__``, ``gradient``
#: and ``delta`` works wherever a Loss does. ``check_target`` None accepts any y.
OPTIONAL_ATTRIBUTES = {
    "name": None,
    "default_out_activation": "identity",
    "canonical_link": None,
    "kinks": (),
    "check_target": None,
}


def optional(loss, attribute):
    """``loss``'s optional ``attribute``, or its default from :data:`OPTIONAL_ATTRIBUTES`."""
    return _optional(loss, attribute, OPTIONAL_ATTRIBUTES)


#: Registry of the built-in losses, by name.
LOSSES = {
    cls.name: cls
    for cls in (SquaredError, AbsoluteError, HuberLoss, PoissonLoss, BinaryLogLoss, LogLoss)
}


def get_loss(spec, param="loss"):
    """Return a :class:`Loss` for a registry name or a loss object.

    Parameters
    ----------
    spec : str or Loss
        A name in :data:`LOSSES` or an object with ``__call__``, ``gradient``
        and ``delta`` methods (subclass :class:`Loss` to inherit ``delta``).
    param : str, default="loss"
        The parameter name used in error messages.

    Returns
    -------
    loss : Loss

    Examples
    --------
    >>> from skfnn.losses import get_loss
    >>> get_loss("huber")
    HuberLoss(threshold=1.0)
    """
    return lookup(spec, LOSSES, param, "a Loss",
                  ("__call__(y, a, sample_weight)", "gradient(y, a)", "delta(y, z, a, activation)"))

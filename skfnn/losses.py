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

import math
from numbers import Real

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
    "GammaLoss",
    "GaussianNLLLoss",
    "HuberLoss",
    "LogLoss",
    "Loss",
    "PoissonLoss",
    "QuantileLoss",
    "SquaredError",
    "TweedieLoss",
    "expand_target",
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
    outputs_per_target : int
        The output head: how many network outputs the loss reads per target
        (1; 2 for a mean–variance head, Q for Q quantiles). The outputs come in
        ``outputs_per_target`` blocks of one column per target.
    predict, point_prediction, predict_std : callable or None
        A head's maps from the outputs a to what ``predict`` returns, to the
        point prediction ``score`` compares with y (one column per target), and
        to the standard deviations of ``predict(X, return_std=True)``. None:
        the outputs are the predictions, and there is no std.

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
    #: The output head: network outputs per target (2 for a mean–variance head).
    outputs_per_target = 1
    #: Optional methods of a head (None: the outputs are the predictions):
    #: ``predict(a)``, what the estimator's predict returns; ``point_prediction(a)``,
    #: one column per target, what score compares with y; ``predict_std(a)``.
    predict = point_prediction = predict_std = None

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
            if sample_weight is None and P.shape[1] == 1:  # the common case, at once
                return _sum(P) / P.shape[0]
            return self._mean_of(P, sample_weight)
        per_sample = self.per_sample(y, a)
        if sample_weight is None:
            return _sum(per_sample) / per_sample.shape[0]
        return _array_api.dot(sample_weight, per_sample) / _sum(sample_weight)

    def _mean_of(self, P, sample_weight=None):
        """Σ_i s_i ℓ_i / Σ_i s_i of a loss with ``pointwise``, from its values P (n, k).

        Kept apart from :meth:`__call__` so that a stack of models (the model axis)
        computes P once for all: a stack P (K, n, k) with weights (K, n) gives the
        list of each model's value, each reduction taken over that model's rows as
        its own fit takes it, and the scalar arithmetic after it done per model.
        """
        if sample_weight is None:
            total = P.shape[-2]
        else:
            P = P * sample_weight[..., None]
            total = _sum(sample_weight, axis=-1)
        # One column: its sum, bit for bit, in one reduction; else the column sums.
        sums = _sum(P, axis=(-2, -1)) if P.shape[-1] == 1 else _sum(P, axis=-2)
        if P.ndim == 2:
            return _mean_from_sums(sums, total)
        totals = [total] * P.shape[0] if sample_weight is None else total
        return [_mean_from_sums(s, t) for s, t in zip(sums, totals, strict=True)]

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


def _mean_from_sums(sums, total):
    """The mean from the (weighted) sum of one column, or the sum of the column means."""
    return sums / total if sums.ndim == 0 else _sum(sums / total)


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


# ----------------------------------------------------------------------------
# Losses with a wider output head: more than one network output per target
# ----------------------------------------------------------------------------
def _blocks(a, m):
    """The m blocks of k = a.shape[1] / m columns of a head, as a list."""
    k = a.shape[1] // m
    return [a[:, i * k:(i + 1) * k] for i in range(m)]


def _softplus(s):
    return array_namespace(s).logaddexp(_array_api.scalar(0, s), s)


class GaussianNLLLoss(Loss):
    """Gaussian negative log-likelihood of a mean–variance head.

    The network gives two outputs per target: the mean μ_k and a variance
    parameter s_k, in two blocks (columns ``[μ_1 … μ_K, s_1 … s_K]``), and

        v_k = softplus(s_k) + min_variance,
        ℓ = Σ_k ½ log(2π v_k) + (y_k − μ_k)² / (2 v_k) = −Σ_k log N(y_k; μ_k, v_k).

    ∂ℓ/∂μ_k = (μ_k − y_k) / v_k and ∂ℓ/∂s_k = ½ (1/v_k − (y_k − μ_k)²/v_k²) σ(s_k),
    σ the logistic function (softplus' derivative); with the identity output
    (the default) δ^L is this gradient. Softplus rather than exp: the variance
    grows linearly, not exponentially, in s (no overflow, and no gradient that
    explodes with a large step), and the floor ``min_variance`` keeps log v and
    r²/v finite however small softplus(s) gets, so the loss stays finite.

    Parameters
    ----------
    min_variance : float, default=1e-6
        The floor of every predicted variance, in the units of y² (the
        estimator does not rescale targets).
    """

    name = "gaussian_nll"
    outputs_per_target = 2

    def __init__(self, min_variance=1e-6):
        if isinstance(min_variance, bool) or not isinstance(min_variance, Real) or \
                not 0 <= min_variance < math.inf:
            raise ValueError("GaussianNLLLoss needs a variance floor min_variance that is a "
                             f"finite number ≥ 0; got min_variance={min_variance!r}.")
        self.min_variance = min_variance

    def variance(self, s):
        """v = softplus(s) + min_variance, from the variance block s."""
        return _softplus(s) + self.min_variance

    def pointwise(self, y, a):
        mu, s = _blocks(a, 2)
        v = self.variance(s)
        r = y - mu
        return 0.5 * (array_namespace(a).log((2 * math.pi) * v) + r * r / v)

    def gradient(self, y, a):
        mu, s = _blocks(a, 2)
        v = self.variance(s)
        r = mu - y
        g_s = 0.5 * (1 / v - (r / v) ** 2) * _array_api.expit(s)
        return _array_api.concat([r / v, g_s], axis=1)

    def delta(self, y, z, a, activation):
        if type(activation) is Identity:  # σ' = 1: δ^L is ∂ℓ/∂a
            return self.gradient(y, a)
        return super().delta(y, z, a, activation)

    def predict(self, a):
        """The predicted means μ, one column per target."""
        return _blocks(a, 2)[0]

    point_prediction = predict

    def predict_std(self, a):
        """The predicted standard deviations √v, one column per target."""
        return array_namespace(a).sqrt(self.variance(_blocks(a, 2)[1]))


class QuantileLoss(Loss):
    """Pinball loss of one or several quantiles τ_1 … τ_Q.

    The network gives one output per quantile and target, in Q blocks
    (quantile-major: column q·K + k is quantile τ_q of target k), and

        ℓ = Σ_q Σ_k ρ_{τ_q}(y_k − a_{qk}),  ρ_τ(r) = max(τ r, (τ − 1) r),

    ∂ℓ/∂a_{qk} = 1 − τ_q where a_{qk} > y_k, −τ_q where a_{qk} < y_k (−τ_q at
    the kink a = y, declared in ``kinks`` for the gradient checks). Its
    minimiser over a is the τ-quantile of y's distribution.

    Parameters
    ----------
    quantile : float or sequence of float, default=0.5
        τ, each in (0, 1).
    """

    name = "quantile"
    kinks = (0.0,)

    def __init__(self, quantile=0.5):
        self.quantile = _checked_quantiles(quantile)

    @property
    def quantiles(self):
        """τ_1 … τ_Q as a tuple."""
        return (self.quantile,) if isinstance(self.quantile, Real) else self.quantile

    @property
    def outputs_per_target(self):
        return len(self.quantiles)

    def _taus(self, a):
        """τ of every column of a head, shape (1, Q·K), in a's namespace and dtype."""
        k = a.shape[1] // len(self.quantiles)
        taus = np.repeat(np.asarray(self.quantiles, dtype=float), k)[None, :]
        return _array_api.on_device(taus, a, dtype=a.dtype)

    def pointwise(self, y, a):
        r = expand_target(self, y) - a
        return array_namespace(a).maximum(self._taus(a) * r, (self._taus(a) - 1) * r)

    def gradient(self, y, a):
        above = _array_api.astype(a > expand_target(self, y), a.dtype)
        return above - self._taus(a)

    def point_prediction(self, a):
        """The block of the quantile nearest 0.5 (the median if it is one of them)."""
        nearest = int(np.argmin([abs(t - 0.5) for t in self.quantiles]))
        return _blocks(a, len(self.quantiles))[nearest]


def _checked_quantiles(quantile):
    """τ as a float, or a tuple of floats, each in (0, 1); else a ValueError."""
    single = isinstance(quantile, Real) and not isinstance(quantile, bool)
    listed = None if single else np.asarray(quantile, dtype=object)
    if listed is not None and listed.ndim != 1:  # [[0.1, 0.9]] is no list of quantiles
        raise ValueError(f"quantile must be a float in (0, 1) or a flat list of them; "
                         f"got {quantile!r}, of {listed.ndim} dimensions.")
    values = [quantile] if single else list(listed)
    if not values or not all(isinstance(t, Real) and not isinstance(t, bool) and 0 < t < 1
                             for t in values):
        raise ValueError(f"quantile must be a float in (0, 1) or a non-empty list of them; "
                         f"got {quantile!r}.")
    if len(set(values)) != len(values):
        raise ValueError(f"quantile lists {quantile!r} with repeated values.")
    return float(quantile) if single else tuple(float(t) for t in values)


class GammaLoss(Loss):
    """Half Gamma deviance: ℓ = Σ_k y_k / a_k − log(y_k / a_k) − 1.

    ∂ℓ/∂a = (a − y) / a²; with the exp output (the log link, its default
    and scikit-learn's ``HistGradientBoostingRegressor(loss="gamma")``) δ^L =
    1 − y/a. Up to terms free of a, ℓ / φ is the negative log-likelihood of a
    Gamma distribution with mean a and dispersion φ. Targets must be positive.
    """

    name = "gamma"
    default_out_activation = "exp"

    def pointwise(self, y, a):
        ratio = y / a
        return ratio - array_namespace(a).log(ratio) - 1

    def gradient(self, y, a):
        return (a - y) / (a * a)

    def delta(self, y, z, a, activation):
        if type(activation) is Exp:  # σ' = a
            return 1 - y / a
        return super().delta(y, z, a, activation)

    def check_target(self, y):
        if array_namespace(y).any(y <= 0):
            raise ValueError("Some value(s) of y are zero or negative, which is not allowed "
                             "for the gamma loss: it models positive targets (use "
                             "TweedieLoss(power=p), 1 < p < 2, for targets with zeros).")


class TweedieLoss(Loss):
    """Half Tweedie deviance of power p, 1 < p < 2 (compound Poisson–Gamma).

        ℓ = Σ_k y^{2−p} / ((1−p)(2−p)) − y a^{1−p} / (1−p) + a^{2−p} / (2−p),

    half of scikit-learn's ``mean_tweedie_deviance`` per sample. ∂ℓ/∂a =
    a^{−p} (a − y); with the exp output (the log link, its default) δ^L =
    a^{1−p} (a − y). Targets must be non-negative; zeros are allowed.

    Parameters
    ----------
    power : float, default=1.5
        p, strictly between 1 (Poisson: ``loss="poisson"``) and 2 (Gamma:
        ``loss="gamma"``).
    """

    name = "tweedie"
    default_out_activation = "exp"

    def __init__(self, power=1.5):
        if not (isinstance(power, Real) and 1 < power < 2):
            raise ValueError(f"TweedieLoss needs a power p with 1 < p < 2 (p = 1 is "
                             f"loss='poisson', p = 2 loss='gamma'); got power={power!r}.")
        self.power = float(power)

    def pointwise(self, y, a):
        p, power = self.power, _array_api.pow
        return (power(y, 2 - p) / ((1 - p) * (2 - p)) - y * power(a, 1 - p) / (1 - p)
                + power(a, 2 - p) / (2 - p))

    def gradient(self, y, a):
        return _array_api.pow(a, -self.power) * (a - y)

    def delta(self, y, z, a, activation):
        if type(activation) is Exp:  # σ' = a
            return _array_api.pow(a, 1 - self.power) * (a - y)
        return super().delta(y, z, a, activation)

    def check_target(self, y):
        if array_namespace(y).any(y < 0):
            raise ValueError("Some value(s) of y are negative, which is not allowed for the "
                             f"tweedie loss (power={self.power}).")


def expand_target(loss, y):
    """y repeated once per block of the loss's output head, to stand beside a.

    The residual a − y of a head of Q blocks is a − [y, …, y] (Q copies):
    where the loss's ``kinks`` lie, for the gradient checks.
    """
    m = optional(loss, "outputs_per_target")
    return y if m == 1 else _array_api.concat([y] * m, axis=1)


#: The optional attributes of a loss, and the default each takes when an object
#: lacks it (see :class:`Loss`): a plain object with ``__call__``, ``gradient``
#: and ``delta`` works wherever a Loss does. ``check_target`` None accepts any y.
OPTIONAL_ATTRIBUTES = {
    "name": None,
    "default_out_activation": "identity",
    "canonical_link": None,
    "kinks": (),
    "check_target": None,
    "outputs_per_target": 1,
    "predict": None,
    "point_prediction": None,
    "predict_std": None,
}


def optional(loss, attribute):
    """``loss``'s optional ``attribute``, or its default from :data:`OPTIONAL_ATTRIBUTES`."""
    return _optional(loss, attribute, OPTIONAL_ATTRIBUTES)


#: Registry of the built-in losses, by name.
LOSSES = {
    cls.name: cls
    for cls in (SquaredError, AbsoluteError, HuberLoss, PoissonLoss, BinaryLogLoss, LogLoss,
                GaussianNLLLoss, QuantileLoss, GammaLoss, TweedieLoss)
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

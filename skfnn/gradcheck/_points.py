"""The points check_loss checks at: targets y that suit the loss, outputs a = σ(z) in its domain.

Built-in losses are recognised by class (subclasses included) and get targets
and outputs from their domain; any other loss gets a fallback, y ~ N(0, 1).
Every point lies away from the loss's kinks (in the residual a − y) and the
activation's (in z), where a finite difference would mix two slopes.
"""

from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from ..activations import get_activation
from ..activations import optional as activation_optional
from ..losses import (
    AbsoluteError,
    BinaryLogLoss,
    GammaLoss,
    GaussianNLLLoss,
    HuberLoss,
    LogLoss,
    PoissonLoss,
    QuantileLoss,
    SquaredError,
    TweedieLoss,
)
from ..losses import optional as loss_optional
from ._report import g, near_kinks, vec


class Point(NamedTuple):
    """An output activation σ, the pre-activations Z and the outputs A = σ(Z)."""

    sigma: object
    Z: np.ndarray
    A: np.ndarray


@dataclass(frozen=True)
class Domain:
    """Targets y, and the outputs a, at which a loss is checked.

    An output a is suitable at target y when it is finite, within [low, high]
    and its residual a − y lies at least ``margin`` away from the loss's kinks.
    """

    description: str
    draw_y: object
    low: float = -1e3
    high: float = 1e3
    known: bool = True
    label: str = ""
    kinks: tuple = ()
    margin: float = 0.0

    def valid(self, a, y):
        with np.errstate(invalid="ignore"):
            in_range = np.isfinite(a) & (a >= self.low) & (a <= self.high)
            return in_range & ~near_kinks(a - y, self.kinks, self.margin)


def target_domain(loss, margin):
    """Which targets y and outputs a suit the loss (built-ins by class, else a fallback)."""
    kinks = tuple(loss_optional(loss, "kinks") or ())
    return replace(_builtin_domain(loss), label=type(loss).__name__, kinks=kinks,
                   margin=margin)


def _builtin_domain(loss):
    if isinstance(loss, LogLoss):
        return Domain("one-hot y, a in [0.05, 0.95]", _one_hot, 0.05, 0.95)
    if isinstance(loss, BinaryLogLoss):
        return Domain("y in {0, 1}, a in [0.05, 0.95]",
                      lambda rng, shape: rng.randint(0, 2, shape).astype(float), 0.05, 0.95)
    if isinstance(loss, PoissonLoss):
        return Domain("counts y ≥ 0, a in [0.1, 20]",
                      lambda rng, shape: rng.poisson(1.5, shape).astype(float), 0.1, 20.0)
    if isinstance(loss, GammaLoss):
        return Domain("y > 0 (Gamma draws), a in [0.1, 20]",
                      lambda rng, shape: rng.gamma(2.0, 1.0, shape), 0.1, 20.0)
    if isinstance(loss, TweedieLoss):
        return Domain("y ≥ 0 with zeros (compound Poisson–Gamma), a in [0.1, 20]",
                      _compound_poisson_gamma, 0.1, 20.0)
    normal = lambda rng, shape: rng.standard_normal(shape)  # noqa: E731
    if isinstance(loss, (SquaredError, AbsoluteError, HuberLoss, GaussianNLLLoss,
                         QuantileLoss)):
        return Domain("real y ~ N(0, 1), real a", normal)
    return Domain("real y ~ N(0, 1), a = σ(z) with z ~ N(0, 1) (the fallback for a loss "
                  "check_loss does not know)", normal, known=False)


def _one_hot(rng, shape):
    n, k = shape
    return np.eye(k)[rng.randint(0, k, n)]


def _compound_poisson_gamma(rng, shape):
    """Tweedie-like targets: a Poisson number of Gamma draws (0 when none)."""
    counts = rng.poisson(1.0, shape)
    return np.where(counts > 0, rng.gamma(2.0 * np.maximum(counts, 1), 0.5), 0.0)


def activations_to_check(loss, activation):
    """The loss's default output activation, then the given ones, without repeats."""
    default = get_activation(loss_optional(loss, "default_out_activation"),
                             "default_out_activation")
    extra = [] if activation is None else (
        list(activation) if isinstance(activation, (list, tuple)) else [activation])
    sigmas = []
    for sigma in [default, *(_as_activation(a) for a in extra)]:
        if not any(type(s) is type(sigma) and s == sigma for s in sigmas):
            sigmas.append(sigma)
    return sigmas


def _as_activation(spec):
    if isinstance(spec, type):
        spec = spec()
    return get_activation(spec)


def as_2d(values, name):
    """``values`` as a float64 (n_samples, n_outputs) array; 1-D is one output."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values.reshape(-1, 1)
    if values.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D (n_samples, n_outputs); got shape "
                         f"{values.shape}.")
    return values


def targets(loss, y, z, shape, domain, rng):
    """The targets Y (given or drawn) and the given pre-activations Z (or None).

    A loss whose output head has m blocks has m outputs per target: Z is
    (n, m·k) for Y of shape (n, k).
    """
    m = loss_optional(loss, "outputs_per_target")
    Z = None if z is None else as_2d(z, "z")
    if y is not None:
        Y = as_2d(y, "y")
        if Z is not None and Z.shape != (Y.shape[0], m * Y.shape[1]):
            head = "the same shape" if m == 1 else (
                f"matching shapes: z has {m} columns per column of y ({domain.label} has {m} "
                "outputs per target)")
            raise ValueError(f"y and z must have {head}; got {Y.shape} and {Z.shape}.")
        return Y, Z
    if Z is not None:
        if Z.shape[1] % m:
            raise ValueError(f"z must have a multiple of {m} columns ({domain.label} has {m} "
                             f"outputs per target); got shape {Z.shape}.")
        shape = (Z.shape[0], Z.shape[1] // m)
    Y = domain.draw_y(rng, shape)
    _check_fallback_targets(loss, domain, Y)
    return Y, Z


def _check_fallback_targets(loss, domain, Y):
    """Say so, and ask for the points, when a loss check_loss does not know rejects Y."""
    check_target = loss_optional(loss, "check_target")
    if domain.known or check_target is None:
        return
    try:
        check_target(Y)
    except ValueError as exc:
        raise ValueError(
            f"check_loss does not know which targets {domain.label} accepts, and its "
            f"check_target rejects the fallback y ~ N(0, 1) ({exc}). Pass the "
            "points to check at with y= (and z=, the output pre-activations)."
        ) from None


def draw_z(sigma, Y, domain, rng):
    """Pre-activations z whose outputs σ(z) lie in the loss's domain, away from kinks.

    For each entry of Y (an elementwise σ), z is drawn from N(0, 1), or if no
    such draw gives a valid output, from U(−8, 8); for a σ of whole rows
    (softmax), rows of z are drawn from N(0, 1).
    """
    with np.errstate(all="ignore"):
        if activation_optional(sigma, "elementwise"):
            return _draw_z_entries(sigma, Y, domain, rng)
        return _draw_z_rows(sigma, Y, domain, rng)


def _draw_z_entries(sigma, Y, domain, rng):
    act_kinks = tuple(activation_optional(sigma, "kinks") or ())
    pools = [rng.standard_normal(1000), rng.uniform(-8.0, 8.0, 4000)]
    pools = [p[~near_kinks(p, act_kinks, domain.margin)] for p in pools]
    outs = [np.asarray(sigma.forward(p.reshape(-1, 1)), float).ravel() for p in pools]
    Z = np.empty(Y.shape)
    for idx in np.ndindex(Y.shape):
        for pool, out in zip(pools, outs, strict=True):
            ok = domain.valid(out, Y[idx])
            if ok.any():
                Z[idx] = pool[rng.choice(np.flatnonzero(ok))]
                break
        else:
            raise ValueError(
                f"check_loss found no z in [-8, 8] for which {type(sigma).__name__} gives an "
                f"output a suitable for {domain.label} ({domain.description}) at "
                f"y={g(Y[idx])}; pass the points with z= (and y=)."
            )
    return Z


def _draw_z_rows(sigma, Y, domain, rng):
    act_kinks = tuple(activation_optional(sigma, "kinks") or ())
    rows = []
    for y_row in Y:
        for _ in range(1000):
            z_row = rng.standard_normal((1, Y.shape[1]))
            a_row = np.asarray(sigma.forward(z_row), float)
            if (domain.valid(a_row, y_row)
                    & ~near_kinks(z_row, act_kinks, domain.margin)).all():
                rows.append(z_row)
                break
        else:
            raise ValueError(
                f"check_loss found no z for which {type(sigma).__name__} gives outputs "
                f"suitable for {domain.label} ({domain.description}) at y={vec(y_row)}; pass "
                "the points with z= (and y=)."
            )
    return np.vstack(rows)

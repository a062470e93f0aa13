"""Verification of the δ-backpropagation against central finite differences.

:func:`check_gradients` compares, for any estimator configuration, the
engine's gradient ∇J with central differences (J(θ + εe_i) − J(θ − εe_i)) / 2ε
on the same packed parameter vector θ, in float64, and reports the error per
layer for W and b.
"""

import copy
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _engine

__all__ = ["BlockError", "GradientCheckResult", "GradientCheckError", "check_gradients"]


class GradientCheckError(AssertionError):
    """Raised by a failed check when ``raise_on_failure=True``."""


@dataclass(frozen=True)
class BlockError:
    """The check's outcome for one parameter block (W^l or b^l).

    Attributes
    ----------
    layer : int
        l, from 1 (the first weight layer) to L.
    param : {"W", "b"}
    n_checked : int
        Coordinates compared (after subsampling and kink skipping).
    n_skipped : int
        Coordinates skipped because the step ε moved a pre-activation (or a
        residual) across a kink of σ' (or of ∂ℓ/∂a).
    max_abs_error : float
        max_i |g_i − g̃_i| over the checked coordinates (g: backprop, g̃:
        finite differences).
    max_rel_error : float
        ``max_abs_error`` relative to the block's scale, max_i max(|g_i|, |g̃_i|)
        (floored at 1e-8, so a block whose gradient vanishes is judged in
        absolute terms).
    where : tuple of int or None
        The index into ``coefs_[l-1]`` or ``intercepts_[l-1]`` where the
        largest error occurs.
    """

    layer: int
    param: str
    n_checked: int
    n_skipped: int
    max_abs_error: float
    max_rel_error: float
    where: tuple


@dataclass(frozen=True)
class GradientCheckResult:
    """The outcome of :func:`check_gradients`: a table, a verdict, the raw vectors.

    Attributes
    ----------
    blocks : list of BlockError
        One row per W^l and b^l.
    tol : float
        A block passes when its ``max_rel_error`` ≤ tol.
    eps : float
        The finite-difference step.
    n_params : int
        The length of θ.
    subset : bool
        True when only a random subset of coordinates was checked.
    loss : float
        J at θ.
    gradient, numerical_gradient : ndarray
        The backprop and finite-difference gradients at the checked
        coordinates ``indices`` of θ.
    indices : ndarray
    """

    blocks: list
    tol: float
    eps: float
    n_params: int
    subset: bool
    loss: float
    gradient: np.ndarray
    numerical_gradient: np.ndarray
    indices: np.ndarray

    @property
    def max_rel_error(self):
        """The largest relative error over all blocks."""
        return max((b.max_rel_error for b in self.blocks), default=0.0)

    @property
    def max_abs_error(self):
        """The largest absolute error over all blocks."""
        return max((b.max_abs_error for b in self.blocks), default=0.0)

    @property
    def passed(self):
        """True when every block's relative error is within ``tol``."""
        return self.max_rel_error <= self.tol

    def __bool__(self):
        return self.passed

    def __str__(self):
        header = f"{'layer':>5} {'param':>5} {'checked':>8} {'skipped':>8} " \
                 f"{'max abs err':>12} {'max rel err':>12}  where"
        lines = [header, "-" * len(header)]
        for b in self.blocks:
            lines.append(
                f"{b.layer:>5} {b.param:>5} {b.n_checked:>8} {b.n_skipped:>8} "
                f"{b.max_abs_error:>12.2e} {b.max_rel_error:>12.2e}  "
                f"{list(b.where) if b.where is not None else '-'}"
            )
        checked = sum(b.n_checked + b.n_skipped for b in self.blocks)
        scope = (f"a random subset of {checked} of {self.n_params} coordinates"
                 if self.subset else f"all {self.n_params} coordinates")
        verdict = "PASSED" if self.passed else "FAILED"
        lines.append(
            f"{verdict}: max relative error {self.max_rel_error:.2e} "
            f"(tol {self.tol:.0e}, eps {self.eps:.0e}, {scope}, J = {self.loss:.6g})"
        )
        return "\n".join(lines)

    def raise_if_failed(self):
        """Raise :class:`GradientCheckError` with the table if the check failed."""
        if not self.passed:
            raise GradientCheckError("Gradient check failed:\n" + str(self))


def check_gradients(estimator, X, y, sample_weight=None, *, eps=1e-6, tol=1e-6,
                    max_params=2000, random_state=0, raise_on_failure=False):
    """Compare the δ-backprop gradient with central finite differences of J.

    The estimator is not modified. A fitted estimator is checked at its
    current weights; an unfitted one at the weights ``fit`` would start from
    (same initialisation and validation). Either way the check runs in float64
    on θ, the packed vector of ``coefs_`` and ``intercepts_``, for the
    estimator's own activations, loss, output activation and ``alpha``.

    Near a kink of an activation (relu at 0, ...) or of a loss (absolute error
    at a = y, ...) a finite difference measures a one-sided mixture of two
    slopes, not the derivative. The check therefore skips every coordinate
    whose ±ε step moves some pre-activation Z^l (or residual a − y) across a
    kink, and counts those in ``n_skipped``.

    Parameters
    ----------
    estimator : FNNRegressor or FNNClassifier
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    sample_weight : array-like of shape (n_samples,), default=None
    eps : float, default=1e-6
        The finite-difference step ε.
    tol : float, default=1e-6
        The largest relative error that passes.
    max_params : int, default=2000
        When θ is longer, a random subset of this many coordinates is checked
        (2 forward passes each).
    random_state : int, RandomState instance or None, default=0
        Seeds the subset.
    raise_on_failure : bool, default=False
        Raise :class:`GradientCheckError` instead of returning a failed result.

    Returns
    -------
    result : GradientCheckResult
        Prints as a per-layer table; ``result.passed`` is the verdict.

    Examples
    --------
    >>> import numpy as np
    >>> from skfnn import FNNRegressor, check_gradients
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.randn(20, 3), rng.randn(20)
    >>> result = check_gradients(FNNRegressor((5,), activation="tanh", alpha=0.1), X, y)
    >>> result.passed
    True
    >>> print(result)  # doctest: +SKIP
    layer param  checked  skipped  max abs err  max rel err  where
    ...
    """
    X, Y, sample_weight, theta, loss, est = _prepare(estimator, X, y, sample_weight)
    layout, sigmas, alpha = est._layout, est._sigmas, est.alpha

    def evaluate(point):
        J, Zs, As = _engine.objective_at(point, X, Y, layout, sigmas, loss, alpha, sample_weight)
        return J, _kink_pattern(Zs, As, Y, sigmas, loss)

    J0, grad = _engine.loss_and_gradient(theta, X, Y, layout, sigmas, loss, alpha, sample_weight)
    _, pattern = evaluate(theta)
    indices = np.arange(theta.size)
    subset = theta.size > max_params
    if subset:
        rng = check_random_state(random_state)
        indices = np.sort(rng.choice(theta.size, max_params, replace=False))
    numerical = np.empty(indices.size)
    valid = np.ones(indices.size, dtype=bool)
    for n, i in enumerate(indices):
        J = []
        for step in (eps, -eps):
            point = theta.copy()
            point[i] += step
            J_step, pattern_step = evaluate(point)
            J.append(J_step)
            valid[n] &= np.array_equal(pattern, pattern_step)
        numerical[n] = (J[0] - J[1]) / (2 * eps)
    result = GradientCheckResult(
        blocks=_block_errors(layout, indices, grad[indices], numerical, valid),
        tol=tol, eps=eps, n_params=theta.size, subset=subset, loss=J0,
        gradient=grad[indices], numerical_gradient=numerical, indices=indices,
    )
    if raise_on_failure:
        result.raise_if_failed()
    return result


def _prepare(estimator, X, y, sample_weight):
    """A float64 copy of the estimator's network, initialised as fit would if unfitted."""
    try:
        check_is_fitted(estimator)
        est = copy.deepcopy(estimator)
        incremental = True
    except Exception:
        est = clone(estimator)
        est._validate_params()
        incremental = False
    X, Y, sample_weight, theta, loss, _ = est._prepare(X, y, sample_weight, incremental)
    X = X.astype(np.float64)
    sample_weight = None if sample_weight is None else sample_weight.astype(np.float64)
    return (X, Y.astype(np.float64), sample_weight, theta.astype(np.float64), loss, est)


def _kink_pattern(Zs, As, Y, sigmas, loss):
    """Which side of each kink every pre-activation and residual lies on."""
    sides = [Z > k for Z, sigma in zip(Zs[1:], sigmas) for k in getattr(sigma, "kinks", ())]
    sides += [(As[-1] - Y) > k for k in getattr(loss, "kinks", ())]
    return np.concatenate([s.ravel() for s in sides]) if sides else np.empty(0, dtype=bool)


def _block_errors(layout, indices, grad, numerical, valid):
    blocks = []
    L = layout.n_layers
    shapes = layout.coef_shapes + [(n,) for n in layout.layer_units[1:]]
    for block, shape in enumerate(shapes):
        start, stop = layout.bounds[block], layout.bounds[block + 1]
        in_block = (indices >= start) & (indices < stop)
        use = in_block & valid
        error = np.abs(grad[use] - numerical[use])
        where, max_abs, max_rel = None, 0.0, 0.0
        if error.size:
            k = int(np.argmax(error))
            where = tuple(int(i) for i in np.unravel_index(indices[use][k] - start, shape))
            scale = max(np.abs(grad[use]).max(), np.abs(numerical[use]).max(), 1e-8)
            max_abs, max_rel = float(error[k]), float(error[k] / scale)
        blocks.append(BlockError(
            layer=block % L + 1, param="W" if block < L else "b",
            n_checked=int(use.sum()), n_skipped=int((in_block & ~valid).sum()),
            max_abs_error=max_abs, max_rel_error=max_rel, where=where,
        ))
    return sorted(blocks, key=lambda b: (b.layer, b.param))

"""Verification of the δ-backpropagation against central finite differences.

:func:`check_gradients` compares, for any estimator configuration, the
engine's gradient ∇J with central differences (J(θ + εe_i) − J(θ − εe_i)) / 2ε
on the same packed parameter vector θ, in float64, and reports the error per
layer for W and b.

:func:`check_activation` and :func:`check_loss` verify the pieces one at a
time: an activation's ``derivative`` against central differences of its
``forward``, and a loss's ``gradient`` and ``delta`` against central
differences of its per-sample value (of ℓ(y, σ(z)) for ``delta``). They are
meant for custom activations and losses, before they go into an estimator.
"""

import copy
from dataclasses import dataclass
from functools import partial

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _engine, _model, _problem
from .activations import get_activation
from .activations import optional as activation_optional
from .losses import (
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
    expand_target,
    get_loss,
)
from .losses import optional as loss_optional

__all__ = [
    "BlockError",
    "CheckResult",
    "GradientCheckError",
    "GradientCheckResult",
    "check_activation",
    "check_gradients",
    "check_loss",
]


class GradientCheckError(AssertionError):
    """Raised by a failed check when ``raise_on_failure=True``.

    A subclass of ``AssertionError``, so a failed check inside a test fails
    the test. Its message names the first problem found, then shows the
    check's full table.

    See Also
    --------
    check_activation, check_loss, check_gradients

    Examples
    --------
    >>> import numpy as np
    >>> from skfnn import Activation, GradientCheckError, check_activation
    >>> class BadTanh(Activation):
    ...     def forward(self, z):
    ...         return np.tanh(z)
    ...     def derivative(self, z, a):
    ...         return 1 - a  # should be 1 - a²
    >>> try:
    ...     check_activation(BadTanh())
    ... except GradientCheckError as error:
    ...     print(str(error).splitlines()[0])  # doctest: +ELLIPSIS
    check_activation(BadTanh()) failed: derivative of BadTanh differs from ...
    >>> issubclass(GradientCheckError, AssertionError)
    True
    """


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
    dropout : tuple of float or None
        The hidden layers' dropout rates when the network drops units: the
        check then draws one set of masks (from ``random_state``) and holds it
        fixed for every evaluation of J, so that it compares the gradient of
        the objective one training step with those masks descends.
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
    dropout: tuple = None

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
        if self.dropout is not None:
            scope += f", dropout {list(self.dropout)} with its masks held fixed"
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

    With dropout, one set of masks is drawn from ``random_state`` and held
    fixed while the differences are taken (the result says so): the check is
    then exact for the objective of a training step with those masks.

    Near a kink of an activation (relu at 0, ...) or of a loss (absolute error
    at a = y, ...) a finite difference measures a one-sided mixture of two
    slopes, not the derivative. The check therefore skips every coordinate
    whose ±ε step moves some pre-activation Z^l (or residual a − y) across a
    kink, and counts those in ``n_skipped``.

    Parameters
    ----------
    estimator : FNNRegressor, FNNClassifier, or a Pipeline ending in one
        A pipeline is checked at its final estimator, on X transformed by
        its other steps (fitted on X first if they are not fitted).
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
        Seeds the dropout masks (if any), then the subset.
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
    X, Y, sample_weight, theta, net = _prepare(estimator, X, y, sample_weight)
    layout = net.layout
    rng = check_random_state(random_state)
    # Dropout makes J random: one draw of the masks, held fixed for every evaluation,
    # gives the deterministic objective whose gradient one training step uses.
    masks = net.draw_masks(rng, X.shape[0], np.float64) if net.has_dropout else None

    def evaluate(point):
        J, Zs, As = _engine.objective_at(net, point, X, Y, sample_weight, masks)
        return J, _kink_pattern(net, Zs, As, Y)

    J0, grad = _engine.loss_and_gradient(net, theta, X, Y, sample_weight, masks=masks)
    _, pattern = evaluate(theta)
    indices = np.arange(theta.size)
    subset = theta.size > max_params
    if subset:
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
        dropout=net.dropout if masks is not None else None,
    )
    if raise_on_failure:
        result.raise_if_failed()
    return result


def _prepare(estimator, X, y, sample_weight):
    """The float64 network, θ and data of the estimator's objective (see check_gradients).

    A Pipeline is checked at its final step, on X as its other steps transform
    it (fitted steps as they are; unfitted ones fitted on X first).
    """
    from ._base import BaseFNN

    if isinstance(estimator, Pipeline):
        transforms, estimator = estimator[:-1], estimator[-1]
        try:
            check_is_fitted(transforms)
        except NotFittedError:
            transforms = clone(transforms).fit(X, y)
        X = transforms.transform(X)
    if not isinstance(estimator, BaseFNN):
        raise TypeError(
            "check_gradients needs an FNNRegressor or FNNClassifier, or a Pipeline that ends "
            f"in one; got {type(estimator).__name__}."
        )
    try:
        check_is_fitted(estimator)
        est, incremental = copy.deepcopy(estimator), True
    except NotFittedError:
        est, incremental = clone(estimator), False
        est._validate_params()
    problem = _problem.build(est, X, y, sample_weight, incremental=incremental)
    theta = _model.start(est, problem, check_random_state(est.random_state))
    X, Y, net = problem.X.astype(np.float64), problem.Y, problem.net
    sample_weight = problem.sample_weight
    sample_weight = None if sample_weight is None else sample_weight.astype(np.float64)
    # The checked network: a user object that breaks its contract is named, not differenced.
    return X, Y.astype(np.float64), sample_weight, theta.astype(np.float64), net.checked()


def _kink_pattern(net, Zs, As, Y):
    """Which side of each kink every pre-activation and residual lies on."""
    sides = [Z > k for Z, kinks in zip(Zs[1:], net.kinks) for k in kinks]
    # The residual a − y, y repeated for each block of the loss's output head.
    sides += [(As[-1] - expand_target(net.loss, Y)) > k for k in net.loss_kinks]
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


# ----------------------------------------------------------------------------
# check_activation and check_loss: one activation or one loss at a time
# ----------------------------------------------------------------------------

#: check_activation's default points: a grid over [−4, 4] and a few points off it.
_DEFAULT_POINTS = np.unique(np.concatenate([
    np.linspace(-4.0, 4.0, 41),
    [-2.7, -1.3, -0.3, -0.05, 0.05, 0.3, 1.3, 2.7],
]))


@dataclass(frozen=True)
class CheckRow:
    """One line of a :class:`CheckResult` table.

    Attributes
    ----------
    check : str
        What was compared: "derivative", "forward_into", "multiply_derivative",
        "gradient", "sample_weight", "delta" or "shape and dtype".
    activation : str
        The activation involved (its class name), or "-".
    n_checked : int
        The values compared.
    n_skipped : int
        The points skipped because the finite-difference step would cross a
        kink (of the activation, or of the loss in the residual a − y).
    max_error : float or None
        The largest error ``|analytic − numerical| / max(1, |analytic|,
        |numerical|)`` (None for the shape and dtype checks).
    """

    check: str
    activation: str
    n_checked: int
    n_skipped: int
    max_error: object


@dataclass(frozen=True)
class CheckResult:
    """The outcome of :func:`check_activation` or :func:`check_loss`.

    Attributes
    ----------
    function : str
        "check_activation" or "check_loss".
    subject : str
        The ``repr`` of the checked activation or loss.
    rows : tuple of CheckRow
        What was compared, and the largest error of each comparison.
    problems : tuple of str
        One sentence per thing found wrong; empty when the check passed.
    tol : float
        The largest error that passes.
    eps : float
        The finite-difference step.
    """

    function: str
    subject: str
    rows: tuple
    problems: tuple
    tol: float
    eps: float

    @property
    def passed(self):
        """True when nothing was found wrong."""
        return not self.problems

    @property
    def max_error(self):
        """The largest error over all comparisons."""
        return max((r.max_error for r in self.rows if r.max_error is not None), default=0.0)

    @property
    def n_skipped(self):
        """The points skipped near kinks, over all comparisons."""
        return sum(r.n_skipped for r in self.rows)

    def __bool__(self):
        return self.passed

    def __str__(self):
        width = max([10, *(len(r.activation) for r in self.rows)])
        header = (f"{'check':<20} {'activation':<{width}} {'checked':>8} {'skipped':>8} "
                  f"{'max error':>10}")
        lines = [f"{self.function}({self.subject})", header, "-" * len(header)]
        for r in self.rows:
            error = "-" if r.max_error is None else f"{r.max_error:.2e}"
            lines.append(f"{r.check:<20} {r.activation:<{width}} {r.n_checked:>8} "
                         f"{r.n_skipped:>8} {error:>10}")
        settings = f"tol {self.tol:.0e}, eps {self.eps:.0e}"
        if self.passed:
            lines.append(f"PASSED: max error {self.max_error:.2e} ({settings})")
        else:
            n = len(self.problems)
            lines.append(f"FAILED ({settings}): {n} problem{'s' if n > 1 else ''}")
            lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)

    def raise_if_failed(self):
        """Raise :class:`GradientCheckError`, first problem first, if the check failed."""
        if not self.passed:
            raise GradientCheckError(
                f"{self.function}({self.subject}) failed: {self.problems[0]}\n\n{self}"
            )


def _kink_margin(eps):
    """How close to a kink a point may lie and still be checked."""
    return max(1e-4, 10 * eps)


def _near_kinks(values, kinks, margin):
    near = np.zeros(np.shape(values), dtype=bool)
    for kink in kinks:
        near |= np.abs(values - kink) < margin
    return near


def _errors(analytic, numerical):
    """|analytic − numerical| / max(1, |analytic|, |numerical|), +inf where not finite."""
    with np.errstate(invalid="ignore", over="ignore"):
        analytic, numerical = np.asarray(analytic, float), np.asarray(numerical, float)
        scale = np.maximum(1.0, np.maximum(np.abs(analytic), np.abs(numerical)))
        error = np.abs(analytic - numerical) / scale
    return np.where(np.isfinite(error), error, np.inf)


def _g(x):
    return f"{float(x):.4g}"


def _vec(x):
    return np.array2string(np.asarray(x, dtype=float), precision=4, separator=", ")


def _call(problems, what, fn, arrays, *extra):
    """fn(*copies of arrays, *extra), noting in ``problems`` each array fn modified."""
    copies = [np.array(value, copy=True) for _, value in arrays]
    out = fn(*copies, *extra)
    for (name, value), copy_ in zip(arrays, copies):
        if not np.array_equal(np.asarray(value), copy_, equal_nan=True):
            problems.append(
                f"{what} modified its input {name} in place; it must leave its arguments "
                f"unchanged (the engine uses {name} again afterwards)"
            )
    return out


def _check_array(problems, what, out, shape, dtype, inputs):
    """Note a wrong shape or dtype of ``out``; return True if the shape is right."""
    out, dtype = np.asarray(out), np.dtype(dtype)
    if out.shape != shape:
        problems.append(
            f"{what} returned an array of shape {out.shape} for {inputs} of shape {shape}; "
            f"it must return an array of the same shape"
        )
        return False
    if out.dtype != dtype:
        problems.append(
            f"{what} returned {out.dtype} for {dtype.name} {inputs}; it must keep the "
            f"input's dtype so that float32 data trains in float32 (a numpy float64 "
            f"scalar, such as np.sqrt(2), promotes a float32 array: use a Python float)"
        )
    return True


def _as_activation(spec):
    if isinstance(spec, type):
        spec = spec()
    return get_activation(spec)


def _as_loss(spec):
    if isinstance(spec, type):
        spec = spec()
    return get_loss(spec)


def _worst(error, bad):
    """The index of the largest error and how many others are above tol."""
    where = np.unravel_index(int(np.argmax(error)), error.shape)
    n_bad = int(bad.sum())
    others = f"; {n_bad - 1} other value(s) differ too" if n_bad > 1 else ""
    return where, others


def _record(rows, problems, check, error, tol, describe, *, activation="-", n_skipped=0,
            masked=None):
    """Add the table row of one check and, if an error exceeds tol, its problem.

    ``describe(where)`` words the largest error, at index ``where`` of
    ``error``. ``masked`` marks entries left out of ``error`` (set to 0 there,
    near a kink); ``n_skipped`` counts points dropped before ``error`` was made.
    Both are reported as skipped.
    """
    n_masked = 0 if masked is None else int(masked.sum())
    rows.append(CheckRow(check, activation, error.size - n_masked, n_skipped + n_masked,
                         float(error.max())))
    bad = error > tol
    if bad.any():
        where, others = _worst(error, bad)
        problems.append(describe(where) + others)


def check_activation(activation, *, points=None, eps=1e-6, tol=1e-6, raise_on_failure=True):
    """Check an activation's derivative against central differences of its forward.

    At each point z the check compares ``derivative(z, forward(z))`` with
    ``(forward(z + ε) − forward(z − ε)) / 2ε``, in float64, as the error
    ``|σ'(z) − fd| / max(1, |σ'(z)|, |fd|)`` (relative for large derivatives,
    absolute for small ones). Points within ``max(1e-4, 10 ε)`` of one of the
    activation's ``kinks`` are skipped (and counted), since the difference
    quotient there mixes two one-sided slopes.

    It also checks what the engine relies on:

    - ``forward`` and ``derivative`` return arrays of z's shape and dtype
      (float32 in, float32 out) and do not modify their arguments;
    - the optional fast paths agree with them: ``forward_into(z, out)`` (into
      a separate array and in place, ``out`` being z) returns ``forward(z)``,
      and ``multiply_derivative(delta, z, a)`` returns ``delta * derivative(z,
      a)``. The engine calls these instead of ``forward`` / ``derivative``
      when they exist (a subclass that redefines ``forward`` or ``derivative``
      without them does not inherit its parent's);
    - with ``derivative_from_a`` set, ``derivative`` does not read z (the
      engine may then pass a in its place).

    Parameters
    ----------
    activation : str, Activation or Activation subclass
        A name in ``skfnn.activations.ACTIVATIONS``, an activation object, or
        a class (instantiated without arguments).
    points : array-like of float, default=None
        The points z. By default 41 points spread evenly over [−4, 4] plus
        ±0.05, ±0.3, ±1.3 and ±2.7.
    eps : float, default=1e-6
        The finite-difference step ε.
    tol : float, default=1e-6
        The largest error that passes.
    raise_on_failure : bool, default=True
        Raise :class:`GradientCheckError` (an ``AssertionError``) naming the
        first problem, instead of returning a failed result.

    Returns
    -------
    result : CheckResult
        ``result.passed`` is the verdict; ``print(result)`` shows a table and
        the problems found.

    Raises
    ------
    GradientCheckError
        If the check fails and ``raise_on_failure`` is True.
    ValueError
        For an activation that is not elementwise (softmax): check it through
        its loss with :func:`check_loss`.

    See Also
    --------
    check_loss : The same for a loss's gradient and output error δ^L.
    check_gradients : The whole network's gradient, for an estimator.

    Examples
    --------
    >>> import numpy as np
    >>> from skfnn import Activation, GradientCheckError, check_activation
    >>> check_activation("tanh").passed
    True
    >>> class Cube(Activation):
    ...     def forward(self, z):
    ...         return z**3
    ...     def derivative(self, z, a):
    ...         return 3 * z  # wrong: should be 3 z²
    >>> result = check_activation(Cube(), raise_on_failure=False)
    >>> result.passed
    False
    >>> print(result.problems[0])  # doctest: +ELLIPSIS
    derivative of Cube differs from the finite difference of forward at z=... by ...
    """
    sigma = _as_activation(activation)
    label = type(sigma).__name__
    if not activation_optional(sigma, "elementwise"):
        raise ValueError(
            f"{label} is not elementwise (its attribute elementwise is False): each of its "
            "outputs depends on a whole row of z, so it has no derivative σ'(z) to compare "
            "point by point and check_activation does not apply. Check it together with "
            "its loss instead: check_loss compares loss.delta with finite differences of "
            "ℓ(y, σ(z)), the full Jacobian included (for softmax: check_loss('log_loss'))."
        )
    z_all = np.asarray(_DEFAULT_POINTS if points is None else points, dtype=np.float64).ravel()
    kinks = tuple(activation_optional(sigma, "kinks") or ())
    near = _near_kinks(z_all, kinks, _kink_margin(eps))
    z = z_all[~near].reshape(-1, 1)
    if z.size == 0:
        raise ValueError(f"All points lie within {_kink_margin(eps):g} of a kink {kinks} of "
                         f"{label}; nothing is left to check.")
    problems, rows = [], []

    def result():
        out = CheckResult("check_activation", repr(sigma), tuple(rows),
                          tuple(dict.fromkeys(problems)), tol, eps)
        if raise_on_failure:
            out.raise_if_failed()
        return out

    # derivative(z, forward(z)) against central differences of forward, in float64.
    a = _call(problems, f"forward of {label}", sigma.forward, [("z", z)])
    if not _check_array(problems, f"forward of {label}", a, z.shape, z.dtype, "z"):
        return result()
    a = np.asarray(a)
    d = _call(problems, f"derivative of {label}", sigma.derivative, [("z", z), ("a", a)])
    if not _check_array(problems, f"derivative of {label}", d, z.shape, z.dtype, "z"):
        return result()
    d = np.asarray(d, dtype=np.float64)
    fd = _column_differences(lambda z_: np.asarray(sigma.forward(z_), np.float64)[:, 0], z, eps)
    _record(rows, problems, "derivative", _errors(d, fd), tol, lambda k: (
        f"derivative of {label} differs from the finite difference of forward at "
        f"z={_g(z[k])} by {_g(abs(d[k] - fd[k]))} (derivative {_g(d[k])}, finite "
        f"difference {_g(fd[k])})"), n_skipped=int(near.sum()))

    # The engine's fast paths must agree with forward and derivative.
    into = activation_optional(sigma, "forward_into")
    if callable(into):
        what = f"forward_into of {label}"
        separate = _call(problems, what, lambda z_: into(z_, np.empty_like(z_)), [("z", z)])
        in_place = _forward_in_place(into, z)
        _record(rows, problems, "forward_into",
                np.maximum(_errors(separate, a), _errors(in_place, a)), tol, lambda k: (
                    f"{what} disagrees with forward at z={_g(z[k])}: forward_into(z, out) "
                    f"gives {_g(np.asarray(separate)[k])} (in place: "
                    f"{_g(np.asarray(in_place)[k])}), forward(z) gives {_g(a[k])}"))
    fused = activation_optional(sigma, "multiply_derivative")
    if callable(fused):
        what = f"multiply_derivative of {label}"
        delta = np.linspace(0.5, 1.5, z.size).reshape(z.shape)
        out = _call(problems, what, lambda z_, a_: fused(delta.copy(), z_, a_),
                    [("z", z), ("a", a)])
        _record(rows, problems, "multiply_derivative", _errors(out, delta * d), tol,
                lambda k: (
                    f"{what} disagrees with derivative at z={_g(z[k])}: multiply_derivative("
                    f"delta, z, a) gives {_g(np.asarray(out)[k])} for delta={_g(delta[k])}, "
                    f"delta * derivative(z, a) is {_g(delta[k] * d[k])}"))

    # derivative_from_a lets the engine overwrite z with a: σ' must not read z.
    if activation_optional(sigma, "derivative_from_a"):
        what = f"derivative of {label}"
        from_a = _call(problems, what, lambda a_: sigma.derivative(a_.copy(), a_), [("a", a)])
        _record(rows, problems, "derivative_from_a", _errors(from_a, d), tol, lambda k: (
            f"{what} reads z although derivative_from_a is True: at z={_g(z[k])} "
            f"derivative(a, a) gives {_g(np.asarray(from_a)[k])}, derivative(z, a) "
            f"gives {_g(d[k])}"))

    # Shapes and dtypes on a 2-D batch, as the engine calls them.
    n_calls = 0
    for dtype in (np.float64, np.float32):
        Z = np.resize(z.ravel(), (5, 3)).astype(dtype)
        with np.errstate(all="ignore"):
            A = np.asarray(sigma.forward(Z.copy()))
            calls = [(f"forward of {label}", A),
                     (f"derivative of {label}", sigma.derivative(Z.copy(), A.astype(dtype)))]
            if callable(into):
                calls.append((f"forward_into of {label}", into(Z.copy(), np.empty_like(Z))))
            if callable(fused):
                calls.append((f"multiply_derivative of {label}",
                              fused(np.ones_like(Z), Z.copy(), A.astype(dtype))))
        for what, out in calls:
            _check_array(problems, what, out, Z.shape, dtype, "z")
        n_calls += len(calls)
    rows.append(CheckRow("shape and dtype", "-", n_calls, 0, None))
    return result()


def _column_differences(f, X, eps):
    """Central differences of the per-row values f(X) in each column of X (X's shape)."""
    fd = np.empty_like(X)
    with np.errstate(all="ignore"):
        for k in range(X.shape[1]):
            plus, minus = X.copy(), X.copy()
            plus[:, k] += eps
            minus[:, k] -= eps
            fd[:, k] = (f(plus) - f(minus)) / (plus[:, k] - minus[:, k])
    return fd


def _describe_delta(what, label, act, loss, sigma, Y, Z, A, D, fd, elementwise, ik):
    """The problem text for the largest δ^L error, at sample i, output k."""
    i, k = ik
    at = (f"y={_g(Y[i, k])}, z={_g(Z[i, k])} (sample {i}, output {k}; a={_g(A[i, k])})"
          if elementwise else f"y={_vec(Y[i])}, z={_vec(Z[i])} (sample {i}, output {k})")
    link = loss_optional(loss, "canonical_link")
    hint = ""
    if isinstance(link, type) and isinstance(sigma, link) and type(sigma) is not link:
        hint = (f" ({label} takes the canonical shortcut δ = a − y because {act} is a "
                f"subclass of {link.__name__}, but {act} is a different function)")
    return (f"{what} differs from the finite difference of ℓ(y, σ(z)) at {at} by "
            f"{_g(abs(D[i, k] - fd[i, k]))} (delta {_g(D[i, k])}, finite difference "
            f"{_g(fd[i, k])}){hint}")


def _forward_in_place(into, z):
    """forward_into(z, z), as the engine's prediction path calls it."""
    z = z.copy()
    return into(z, z)


class _Domain:
    """Targets y, and the outputs a, at which a loss is checked."""

    def __init__(self, description, draw_y, low=-1e3, high=1e3, known=True):
        self.description = description
        self.draw_y = draw_y
        self.low, self.high = low, high
        self.known = known

    def valid(self, a):
        with np.errstate(invalid="ignore"):
            return np.isfinite(a) & (a >= self.low) & (a <= self.high)


def _one_hot(rng, shape):
    n, k = shape
    return np.eye(k)[rng.randint(0, k, n)]


def _target_domain(loss):
    """Which targets y and outputs a suit the loss (built-ins by class, else a fallback)."""
    if isinstance(loss, LogLoss):
        return _Domain("one-hot y, a in [0.05, 0.95]", _one_hot, 0.05, 0.95)
    if isinstance(loss, BinaryLogLoss):
        return _Domain("y in {0, 1}, a in [0.05, 0.95]",
                       lambda rng, shape: rng.randint(0, 2, shape).astype(float), 0.05, 0.95)
    if isinstance(loss, PoissonLoss):
        return _Domain("counts y ≥ 0, a in [0.1, 20]",
                       lambda rng, shape: rng.poisson(1.5, shape).astype(float), 0.1, 20.0)
    if isinstance(loss, GammaLoss):
        return _Domain("y > 0 (Gamma draws), a in [0.1, 20]",
                       lambda rng, shape: rng.gamma(2.0, 1.0, shape), 0.1, 20.0)
    if isinstance(loss, TweedieLoss):
        return _Domain("y ≥ 0 with zeros (compound Poisson–Gamma), a in [0.1, 20]",
                       _compound_poisson_gamma, 0.1, 20.0)
    normal = lambda rng, shape: rng.standard_normal(shape)  # noqa: E731
    if isinstance(loss, (SquaredError, AbsoluteError, HuberLoss, GaussianNLLLoss,
                         QuantileLoss)):
        return _Domain("real y ~ N(0, 1), real a", normal)
    return _Domain("real y ~ N(0, 1), a = σ(z) with z ~ N(0, 1) (the fallback for a loss "
                   "check_loss does not know)", normal, known=False)


def _compound_poisson_gamma(rng, shape):
    """Tweedie-like targets: a Poisson number of Gamma draws (0 when none)."""
    counts = rng.poisson(1.0, shape)
    return np.where(counts > 0, rng.gamma(2.0 * np.maximum(counts, 1), 0.5), 0.0)


def _draw_z(sigma, Y, domain, rng, margin, loss_kinks, label):
    """Pre-activations z whose outputs σ(z) lie in the loss's domain, away from kinks.

    For each entry of Y, z is drawn from N(0, 1), or if no such draw gives a
    valid output, from U(−8, 8).
    """
    act = type(sigma).__name__
    act_kinks = tuple(activation_optional(sigma, "kinks") or ())
    with np.errstate(all="ignore"):
        if activation_optional(sigma, "elementwise"):
            pools = [rng.standard_normal(1000), rng.uniform(-8.0, 8.0, 4000)]
            pools = [p[~_near_kinks(p, act_kinks, margin)] for p in pools]
            outs = [np.asarray(sigma.forward(p.reshape(-1, 1)), float).ravel() for p in pools]
            Z = np.empty(Y.shape)
            for idx in np.ndindex(Y.shape):
                for pool, out in zip(pools, outs):
                    ok = domain.valid(out) & ~_near_kinks(out - Y[idx], loss_kinks, margin)
                    if ok.any():
                        Z[idx] = pool[rng.choice(np.flatnonzero(ok))]
                        break
                else:
                    raise ValueError(
                        f"check_loss found no z in [-8, 8] for which {act} gives an output "
                        f"a suitable for {label} ({domain.description}) at y={_g(Y[idx])}; "
                        "pass the points with z= (and y=)."
                    )
            return Z
        rows = []
        for y_row in Y:
            for _ in range(1000):
                z_row = rng.standard_normal((1, Y.shape[1]))
                a_row = np.asarray(sigma.forward(z_row), float)
                if (domain.valid(a_row) & ~_near_kinks(a_row - y_row, loss_kinks, margin)
                        & ~_near_kinks(z_row, act_kinks, margin)).all():
                    rows.append(z_row)
                    break
            else:
                raise ValueError(
                    f"check_loss found no z for which {act} gives outputs suitable for "
                    f"{label} ({domain.description}) at y={_vec(y_row)}; pass the points "
                    "with z= (and y=)."
                )
        return np.vstack(rows)


def _activations_to_check(loss, activation):
    default = get_activation(loss_optional(loss, "default_out_activation"),
                             "default_out_activation")
    extra = [] if activation is None else (
        list(activation) if isinstance(activation, (list, tuple)) else [activation])
    sigmas = []
    for sigma in [default, *(_as_activation(a) for a in extra)]:
        if not any(type(s) is type(sigma) and s == sigma for s in sigmas):
            sigmas.append(sigma)
    return sigmas


def _as_2d(values, name):
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values.reshape(-1, 1)
    if values.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D (n_samples, n_outputs); got shape "
                         f"{values.shape}.")
    return values


def check_loss(loss, *, activation=None, y=None, z=None, n_samples=8, n_outputs=3, eps=1e-6,
               tol=1e-6, random_state=0, raise_on_failure=True):
    """Check a loss's gradient and output error δ^L against central differences.

    Three comparisons, in float64, each as the error ``|analytic − fd| /
    max(1, |analytic|, |fd|)``:

    1. ``gradient(y, a)`` against central differences of the per-sample
       loss ℓ(y_i, a_i) in each a_ik (``per_sample(y, a)`` if the loss has
       one, else ``loss(y[i:i+1], a[i:i+1])`` row by row);
    2. ``loss(y, a, sample_weight)`` against the weighted mean Σ s_i ℓ_i /
       Σ s_i of the per-sample values (and ``loss(y, a)`` against their mean);
    3. ``delta(y, z, a, activation)`` against central differences of
       ℓ(y_i, σ(z_i)) in each z_ik, for the loss's default output activation
       and for ``activation``. The finite difference goes through
       ``forward`` of the whole row, so for softmax it is the full Jacobian
       that the shortcut δ^L = a − y must match.

    It also checks that the gradient and δ^L keep the shape and float32
    dtype of their inputs, that nothing modifies its arguments, that
    ``per_sample`` returns one value per sample, and that ``delta`` returns a
    new array (the engine scales it in place). Points where the residual
    a − y lies within ``max(1e-4, 10 ε)`` of one of the loss's ``kinks``, or z
    of one of the activation's, are skipped and counted.

    **The points.** By default n_samples × n_outputs targets y are drawn to
    suit the loss, recognised by its class (subclasses included):
    ``LogLoss``: one-hot rows; ``BinaryLogLoss``: y in {0, 1};
    ``PoissonLoss``: counts y ≥ 0; ``SquaredError``, ``AbsoluteError``,
    ``HuberLoss``: y ~ N(0, 1). Pre-activations z are drawn from N(0, 1)
    (else U(−8, 8)) entry by entry until σ(z) lies in the loss's domain: a in
    [0.05, 0.95] for the log-losses, [0.1, 20] for Poisson, any real a
    otherwise. Any other loss gets the fallback: y ~ N(0, 1) and a = σ(z)
    with z ~ N(0, 1); if its ``check_target`` rejects those targets, pass
    ``y=`` and ``z=`` to choose the points.

    Parameters
    ----------
    loss : str, Loss or Loss subclass
        A name in ``skfnn.losses.LOSSES``, a loss object, or a class
        (instantiated without arguments).
    activation : str, Activation, or a list of them, default=None
        Output activation(s) to check δ^L with, besides the loss's default
        output activation (its ``default_out_activation``).
    y : array-like of shape (n_samples, n_outputs), default=None
        The targets to check at (drawn as above if None).
    z : array-like of shape (n_samples, n_outputs), default=None
        The output pre-activations to check at, for every activation (drawn
        for each activation as above if None); a = σ(z).
    n_samples, n_outputs : int, default=8, 3
        The shape of the drawn points (ignored for given ``y`` or ``z``).
    eps : float, default=1e-6
        The finite-difference step ε.
    tol : float, default=1e-6
        The largest error that passes.
    random_state : int, RandomState instance or None, default=0
        Seeds the drawn points and sample weights.
    raise_on_failure : bool, default=True
        Raise :class:`GradientCheckError` (an ``AssertionError``) naming the
        first problem, instead of returning a failed result.

    Returns
    -------
    result : CheckResult
        ``result.passed`` is the verdict; ``print(result)`` shows a table and
        the problems found.

    Raises
    ------
    GradientCheckError
        If the check fails and ``raise_on_failure`` is True.
    ValueError
        If no suitable points can be drawn (pass ``y=`` and ``z=``).

    See Also
    --------
    check_activation : The same for an activation's derivative.
    check_gradients : The whole network's gradient, for an estimator.

    Examples
    --------
    >>> import numpy as np
    >>> from skfnn import Loss, check_loss
    >>> check_loss("poisson", activation=["identity", "softplus"]).passed
    True
    >>> class Quartic(Loss):
    ...     def per_sample(self, y, a):
    ...         return 0.25 * ((a - y) ** 4).sum(axis=1)
    ...     def gradient(self, y, a):
    ...         return (a - y) ** 2  # wrong: should be (a − y)³
    >>> result = check_loss(Quartic(), raise_on_failure=False)
    >>> result.passed
    False
    >>> print(result.problems[0])  # doctest: +ELLIPSIS
    gradient of Quartic differs from the finite difference of its per-sample loss at y=...
    """
    loss = _as_loss(loss)
    label = type(loss).__name__
    rng = check_random_state(random_state)
    margin = _kink_margin(eps)
    loss_kinks = tuple(loss_optional(loss, "kinks") or ())
    sigmas = _activations_to_check(loss, activation)
    domain = _target_domain(loss)
    problems, rows = [], []

    def result():
        out = CheckResult("check_loss", repr(loss), tuple(rows),
                          tuple(dict.fromkeys(problems)), tol, eps)
        if raise_on_failure:
            out.raise_if_failed()
        return out

    # A loss with an output head of m blocks has m outputs per target: z is (n, m·k).
    m = loss_optional(loss, "outputs_per_target")
    Z_given = None if z is None else _as_2d(z, "z")
    if y is not None:
        Y = _as_2d(y, "y")
        if Z_given is not None and Z_given.shape != (Y.shape[0], m * Y.shape[1]):
            head = "the same shape" if m == 1 else (
                f"matching shapes: z has {m} columns per column of y ({label} has {m} "
                "outputs per target)")
            raise ValueError(f"y and z must have {head}; got {Y.shape} and "
                             f"{Z_given.shape}.")
    else:
        if Z_given is not None and Z_given.shape[1] % m:
            raise ValueError(f"z must have a multiple of {m} columns ({label} has {m} "
                             f"outputs per target); got shape {Z_given.shape}.")
        shape = (n_samples, n_outputs) if Z_given is None else (Z_given.shape[0],
                                                                Z_given.shape[1] // m)
        Y = domain.draw_y(rng, shape)
        check_target = loss_optional(loss, "check_target")
        if not domain.known and check_target is not None:
            try:
                check_target(Y)
            except ValueError as exc:
                raise ValueError(
                    f"check_loss does not know which targets {label} accepts, and its "
                    f"check_target rejects the fallback y ~ N(0, 1) ({exc}). Pass the "
                    "points to check at with y= (and z=, the output pre-activations)."
                ) from None
    Yx = expand_target(loss, Y)  # y beside each block of the head: residuals a − y
    points = []  # (σ, Z, A) per activation
    for sigma in sigmas:
        Z = Z_given if Z_given is not None else _draw_z(sigma, Yx, domain, rng, margin,
                                                        loss_kinks, label)
        with np.errstate(all="ignore"):
            points.append((sigma, Z, np.asarray(sigma.forward(Z), dtype=np.float64)))

    # The per-sample loss ℓ(y_i, a_i), summed over outputs.
    _, _, A = points[0]
    per_sample = getattr(loss, "per_sample", None)
    use_per_sample = callable(per_sample)
    if use_per_sample:
        try:
            values = np.asarray(per_sample(Y, A))
        except NotImplementedError:
            use_per_sample = False
        else:
            if values.shape != (Y.shape[0],):
                problems.append(
                    f"per_sample of {label} returned an array of shape {values.shape} for "
                    f"{Y.shape[0]} samples; it must return one value per sample, summed "
                    f"over the outputs: shape ({Y.shape[0]},)"
                )
                return result()

    def loss_values(Y, A):
        with np.errstate(all="ignore"):
            if use_per_sample:
                return np.asarray(loss.per_sample(Y, A), dtype=np.float64)
            return np.array([float(loss(Y[i:i + 1], A[i:i + 1])) for i in range(len(Y))])

    # 1. gradient(y, a) against central differences of ℓ in a.
    what = f"gradient of {label}"
    G = _call(problems, what, loss.gradient, [("y", Y), ("a", A)])
    if _check_array(problems, what, G, A.shape, A.dtype, "a"):
        G = np.asarray(G, dtype=np.float64)
        fd = _column_differences(lambda A_: loss_values(Y, A_), A, eps)
        skip = _near_kinks(A - Yx, loss_kinks, margin)
        _record(rows, problems, "gradient", np.where(skip, 0.0, _errors(G, fd)), tol,
                lambda ik: (
                    f"{what} differs from the finite difference of its per-sample loss at "
                    f"y={_g(Yx[ik])}, a={_g(A[ik])} (sample {ik[0]}, output {ik[1]}) by "
                    f"{_g(abs(G[ik] - fd[ik]))} (gradient {_g(G[ik])}, finite difference "
                    f"{_g(fd[ik])})"), masked=skip)
        dtype_G = loss.gradient(Y.astype(np.float32), A.astype(np.float32))
        _check_array(problems, what, dtype_G, A.shape, np.float32, "y and a")

    # 2. loss(y, a, sample_weight) is the weighted mean of the per-sample values.
    values = loss_values(Y, A)
    s = rng.uniform(0.1, 2.0, Y.shape[0])
    errors = []
    for weights, expected, name in ((None, values.mean(), "the mean"),
                                    (s, (s * values).sum() / s.sum(),
                                     "the weighted mean Σ s_i ℓ_i / Σ s_i")):
        args = (Y, A) if weights is None else (Y, A, weights)
        got = float(loss(*args))  # positionally, as the engine calls it
        errors.append(float(_errors(got, expected)))
        if not errors[-1] <= tol:
            call = f"{label}(y, a)" if weights is None else f"{label}(y, a, sample_weight)"
            problems.append(f"{call} returned {got:.6g} but {name} of its per-sample values "
                            f"is {expected:.6g}")
    rows.append(CheckRow("sample_weight", "-", 2, 0, max(errors)))

    # 3. delta(y, z, a, σ) against central differences of ℓ(y, σ(z)) in z.
    for sigma, Z, A in points:
        act = type(sigma).__name__
        what = f"delta of {label} with {act}"
        elementwise = activation_optional(sigma, "elementwise")
        inputs = [("y", Y), ("z", Z), ("a", A)]
        copies = [np.array(v, copy=True) for _, v in inputs]
        D = loss.delta(*copies, sigma)
        for (name, value), copy_ in zip(inputs, copies):
            if not np.array_equal(value, copy_, equal_nan=True):
                problems.append(f"{what} modified its input {name} in place; it must leave "
                                "its arguments unchanged")
            elif isinstance(D, np.ndarray) and np.shares_memory(D, copy_):
                problems.append(f"{what} returned its input {name} (or a view of it); it "
                                "must return a new array, which the engine scales in place "
                                "by the sample weights")
        if not _check_array(problems, what, D, Z.shape, Z.dtype, "z"):
            continue
        D = np.asarray(D, dtype=np.float64)
        fd = _column_differences(
            lambda Z_: loss_values(Y, np.asarray(sigma.forward(Z_), np.float64)), Z, eps)
        skip = (_near_kinks(A - Yx, loss_kinks, margin)
                | _near_kinks(Z, tuple(activation_optional(sigma, "kinks") or ()), margin))
        if not elementwise:
            skip = np.repeat(skip.any(axis=1, keepdims=True), Z.shape[1], axis=1)
        _record(rows, problems, "delta", np.where(skip, 0.0, _errors(D, fd)), tol,
                partial(_describe_delta, what, label, act, loss, sigma, Yx, Z, A, D, fd,
                        elementwise), activation=act, masked=skip)
        with np.errstate(all="ignore"):
            A32 = np.asarray(sigma.forward(Z.astype(np.float32))).astype(np.float32)
            D32 = loss.delta(Y.astype(np.float32), Z.astype(np.float32), A32, sigma)
        if np.asarray(D32).dtype != np.float32 and elementwise and np.asarray(
                sigma.derivative(Z.astype(np.float32), A32)).dtype != np.float32:
            problems.append(f"{what} returned {np.asarray(D32).dtype} for float32 inputs "
                            f"because derivative of {act} does (see check_activation)")
        else:
            _check_array(problems, what, D32, Z.shape, np.float32, "y, z and a")
    rows.append(CheckRow("shape and dtype", "-", 1 + len(points), 0, None))
    return result()

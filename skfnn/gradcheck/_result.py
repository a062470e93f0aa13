"""The one result type of the three checks, its rows, and the error they raise."""

from dataclasses import dataclass

import numpy as np


class GradientCheckError(AssertionError):
    """Raised by a failed check (unless ``raise_on_failure=False``).

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
class CheckRow:
    """One line of a :class:`CheckResult` table: one comparison and its largest error.

    ``BlockError`` is another name for this class (the rows of
    :func:`check_gradients`, one per parameter block W^l or b^l, were of that
    type before the three checks shared one result type).

    Attributes
    ----------
    check : str
        What was compared: "derivative", "forward_into", "multiply_derivative",
        "derivative_from_a", "gradient", "sample_weight", "delta" or "shape and
        dtype" (:func:`check_activation`, :func:`check_loss`), or the block
        "W^l" / "b^l" (:func:`check_gradients`).
    activation : str
        The activation involved (its class name), or "-".
    n_checked : int
        The values (or coordinates of θ) compared.
    n_skipped : int
        The points skipped because the finite-difference step would cross a
        kink: of an activation (a pre-activation z or Z^l), or of the loss (in
        the residual a − y).
    max_error : float or None
        The largest error, the one compared with ``tol`` (None for the shape
        and dtype checks). For :func:`check_activation` and :func:`check_loss`
        it is ``|analytic − numerical| / max(1, |analytic|, |numerical|)``;
        for a block of :func:`check_gradients` it is ``max_abs_error``
        relative to the block's scale, max_i max(|g_i|, |g̃_i|) (floored at
        1e-8, so a block whose gradient vanishes is judged in absolute terms).
    layer : int or None
        :func:`check_gradients` only: l, from 1 (the first weight layer) to L.
    param : {"W", "b"} or None
        :func:`check_gradients` only: the block's parameter.
    max_abs_error : float or None
        :func:`check_gradients` only: max_i |g_i − g̃_i| over the checked
        coordinates (g: backprop, g̃: finite differences).
    where : tuple of int or None
        :func:`check_gradients` only: the index into ``coefs_[l-1]`` or
        ``intercepts_[l-1]`` where the largest error occurs.
    """

    check: str
    activation: str
    n_checked: int
    n_skipped: int
    max_error: object
    layer: object = None
    param: object = None
    max_abs_error: object = None
    where: object = None

    @property
    def max_rel_error(self):
        """``max_error``, under the name the blocks of :func:`check_gradients` used."""
        return self.max_error


@dataclass(frozen=True)
class CheckResult:
    """The outcome of :func:`check_gradients`, :func:`check_activation` or :func:`check_loss`.

    ``GradientCheckResult`` is another name for this class (the result of
    :func:`check_gradients` was of that type before the three checks shared
    one result type). ``bool(result)`` and ``result.passed`` are the verdict;
    ``print(result)`` shows the table and the problems found.

    Attributes
    ----------
    function : str
        "check_gradients", "check_activation" or "check_loss".
    subject : str
        The ``repr`` of the checked estimator, activation or loss.
    rows : tuple of CheckRow
        What was compared, and the largest error of each comparison; for
        :func:`check_gradients`, one row per W^l and b^l (also ``blocks``).
    problems : tuple of str
        One sentence per thing found wrong; empty when the check passed.
    tol : float
        The largest error that passes.
    eps : float
        The finite-difference step.
    n_params : int or None
        :func:`check_gradients` only: the length of θ.
    subset : bool
        :func:`check_gradients` only: True when only a random subset of
        coordinates was checked.
    loss : float or None
        :func:`check_gradients` only: J at θ.
    gradient, numerical_gradient : ndarray or None
        :func:`check_gradients` only: the backprop and finite-difference
        gradients at the checked coordinates ``indices`` of θ.
    indices : ndarray or None
        :func:`check_gradients` only.
    dropout : tuple of float or None
        :func:`check_gradients` only: the hidden layers' dropout rates when
        the network drops units. The check then draws one set of masks (from
        ``random_state``) and holds it fixed for every evaluation of J, so
        that it compares the gradient of the objective one training step with
        those masks descends.
    """

    function: str
    subject: str
    rows: tuple
    problems: tuple
    tol: float
    eps: float
    n_params: object = None
    subset: bool = False
    loss: object = None
    gradient: np.ndarray = None
    numerical_gradient: np.ndarray = None
    indices: np.ndarray = None
    dropout: tuple = None

    @property
    def passed(self):
        """True when nothing was found wrong."""
        return not self.problems

    @property
    def blocks(self):
        """The rows, under the name :func:`check_gradients`' per-block rows had."""
        return self.rows

    @property
    def max_error(self):
        """The largest error over all comparisons (the one compared with ``tol``)."""
        return max((r.max_error for r in self.rows if r.max_error is not None), default=0.0)

    @property
    def max_rel_error(self):
        """``max_error``, under the name :func:`check_gradients`' results used."""
        return self.max_error

    @property
    def max_abs_error(self):
        """The largest absolute error over the blocks of :func:`check_gradients` (else 0)."""
        return max((r.max_abs_error for r in self.rows if r.max_abs_error is not None),
                   default=0.0)

    @property
    def n_skipped(self):
        """The points skipped near kinks, over all comparisons."""
        return sum(r.n_skipped for r in self.rows)

    def __bool__(self):
        return self.passed

    def __str__(self):
        if self.function == "check_gradients":
            return _gradient_table(self)
        return _comparison_table(self)

    def raise_if_failed(self):
        """Raise :class:`GradientCheckError`, first problem first, if the check failed."""
        if not self.passed:
            title = ("Gradient check" if self.function == "check_gradients"
                     else f"{self.function}({self.subject})")
            raise GradientCheckError(f"{title} failed: {self.problems[0]}\n\n{self}")


#: GradientCheckResult: the result of :func:`check_gradients`, another name for CheckResult.
GradientCheckResult = CheckResult

#: BlockError: a row of :func:`check_gradients`' table, another name for CheckRow.
BlockError = CheckRow


def _comparison_table(result):
    """check_activation's and check_loss's table: one line per comparison, then the verdict."""
    width = max([10, *(len(r.activation) for r in result.rows)])
    header = (f"{'check':<20} {'activation':<{width}} {'checked':>8} {'skipped':>8} "
              f"{'max error':>10}")
    lines = [f"{result.function}({result.subject})", header, "-" * len(header)]
    for r in result.rows:
        error = "-" if r.max_error is None else f"{r.max_error:.2e}"
        lines.append(f"{r.check:<20} {r.activation:<{width}} {r.n_checked:>8} "
                     f"{r.n_skipped:>8} {error:>10}")
    settings = f"tol {result.tol:.0e}, eps {result.eps:.0e}"
    if result.passed:
        lines.append(f"PASSED: max error {result.max_error:.2e} ({settings})")
    else:
        n = len(result.problems)
        lines.append(f"FAILED ({settings}): {n} problem{'s' if n > 1 else ''}")
        lines += [f"  - {p}" for p in result.problems]
    return "\n".join(lines)


def _gradient_table(result):
    """check_gradients' table: one line per block W^l, b^l, then the verdict and scope."""
    header = (f"{'layer':>5} {'param':>5} {'checked':>8} {'skipped':>8} "
              f"{'max abs err':>12} {'max rel err':>12}  where")
    lines = [header, "-" * len(header)]
    for b in result.rows:
        lines.append(
            f"{b.layer:>5} {b.param:>5} {b.n_checked:>8} {b.n_skipped:>8} "
            f"{b.max_abs_error:>12.2e} {b.max_rel_error:>12.2e}  "
            f"{list(b.where) if b.where is not None else '-'}"
        )
    checked = sum(b.n_checked + b.n_skipped for b in result.rows)
    scope = (f"a random subset of {checked} of {result.n_params} coordinates"
             if result.subset else f"all {result.n_params} coordinates")
    if result.dropout is not None:
        scope += f", dropout {list(result.dropout)} with its masks held fixed"
    verdict = "PASSED" if result.passed else "FAILED"
    lines.append(
        f"{verdict}: max relative error {result.max_rel_error:.2e} "
        f"(tol {result.tol:.0e}, eps {result.eps:.0e}, {scope}, J = {result.loss:.6g})"
    )
    return "\n".join(lines)

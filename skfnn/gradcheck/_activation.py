"""check_activation: an activation's derivative and fast paths, one named check each."""

import numpy as np

from ..activations import get_activation
from ..activations import optional as activation_optional
from ._report import Report, column_differences, errors, g, kink_margin, near_kinks

#: check_activation's default points: a grid over [−4, 4] and a few points off it.
DEFAULT_POINTS = np.unique(np.concatenate([
    np.linspace(-4.0, 4.0, 41),
    [-2.7, -1.3, -0.3, -0.05, 0.05, 0.3, 1.3, 2.7],
]))


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
        first problem, instead of returning a failed result. The default of
        all three checks: a failed check called bare, in a test or a script,
        cannot go unnoticed.

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
    sigma = as_activation(activation)
    z, n_near = _points_off_kinks(sigma, points, eps)
    report = Report("check_activation", repr(sigma), tol, eps)
    checked = _check_derivative(report, sigma, z, n_near)
    if checked is not None:
        a, d = checked
        _check_forward_into(report, sigma, z, a)
        _check_multiply_derivative(report, sigma, z, a, d)
        _check_derivative_from_a(report, sigma, z, a, d)
        _check_batch_dtypes(report, sigma, z)
    return report.result(raise_on_failure)


def as_activation(spec):
    """An activation from a name, an object or a class (instantiated without arguments)."""
    if isinstance(spec, type):
        spec = spec()
    return get_activation(spec)


def _points_off_kinks(sigma, points, eps):
    """The points z as a column, less those near a kink, and how many those were."""
    label = type(sigma).__name__
    if not activation_optional(sigma, "elementwise"):
        raise ValueError(
            f"{label} is not elementwise (its attribute elementwise is False): each of its "
            "outputs depends on a whole row of z, so it has no derivative σ'(z) to compare "
            "point by point and check_activation does not apply. Check it together with "
            "its loss instead: check_loss compares loss.delta with finite differences of "
            "ℓ(y, σ(z)), the full Jacobian included (for softmax: check_loss('log_loss'))."
        )
    z_all = np.asarray(DEFAULT_POINTS if points is None else points, dtype=np.float64).ravel()
    kinks = tuple(activation_optional(sigma, "kinks") or ())
    near = near_kinks(z_all, kinks, kink_margin(eps))
    if near.all():
        raise ValueError(f"All points lie within {kink_margin(eps):g} of a kink {kinks} of "
                         f"{label}; nothing is left to check.")
    return z_all[~near].reshape(-1, 1), int(near.sum())


def _check_derivative(report, sigma, z, n_near):
    """derivative(z, forward(z)) against central differences of forward, in float64.

    Returns (a, σ'(z)), or None when forward or derivative returns a wrong shape.
    """
    label = type(sigma).__name__
    a = report.call(f"forward of {label}", sigma.forward, [("z", z)])
    if not report.check_array(f"forward of {label}", a, z.shape, z.dtype, "z"):
        return None
    a = np.asarray(a)
    d = report.call(f"derivative of {label}", sigma.derivative, [("z", z), ("a", a)])
    if not report.check_array(f"derivative of {label}", d, z.shape, z.dtype, "z"):
        return None
    d = np.asarray(d, dtype=np.float64)
    fd = column_differences(lambda z_: np.asarray(sigma.forward(z_), np.float64)[:, 0],
                            z, report.eps)
    report.compare("derivative", errors(d, fd), lambda k: (
        f"derivative of {label} differs from the finite difference of forward at "
        f"z={g(z[k])} by {g(abs(d[k] - fd[k]))} (derivative {g(d[k])}, finite "
        f"difference {g(fd[k])})"), n_skipped=n_near)
    return a, d


def _check_forward_into(report, sigma, z, a):
    """forward_into(z, out), into a separate array and in place, returns forward(z)."""
    into = activation_optional(sigma, "forward_into")
    if not callable(into):
        return
    what = f"forward_into of {type(sigma).__name__}"
    separate = report.call(what, lambda z_: into(z_, np.empty_like(z_)), [("z", z)])
    z_copy = z.copy()
    in_place = into(z_copy, z_copy)  # as the engine's prediction path calls it
    report.compare(
        "forward_into", np.maximum(errors(separate, a), errors(in_place, a)), lambda k: (
            f"{what} disagrees with forward at z={g(z[k])}: forward_into(z, out) "
            f"gives {g(np.asarray(separate)[k])} (in place: "
            f"{g(np.asarray(in_place)[k])}), forward(z) gives {g(a[k])}"))


def _check_multiply_derivative(report, sigma, z, a, d):
    """multiply_derivative(delta, z, a) returns delta * derivative(z, a)."""
    fused = activation_optional(sigma, "multiply_derivative")
    if not callable(fused):
        return
    what = f"multiply_derivative of {type(sigma).__name__}"
    delta = np.linspace(0.5, 1.5, z.size).reshape(z.shape)
    out = report.call(what, lambda z_, a_: fused(delta.copy(), z_, a_), [("z", z), ("a", a)])
    report.compare("multiply_derivative", errors(out, delta * d), lambda k: (
        f"{what} disagrees with derivative at z={g(z[k])}: multiply_derivative("
        f"delta, z, a) gives {g(np.asarray(out)[k])} for delta={g(delta[k])}, "
        f"delta * derivative(z, a) is {g(delta[k] * d[k])}"))


def _check_derivative_from_a(report, sigma, z, a, d):
    """With derivative_from_a the engine overwrites z with a: σ' must not read z."""
    if not activation_optional(sigma, "derivative_from_a"):
        return
    what = f"derivative of {type(sigma).__name__}"
    from_a = report.call(what, lambda a_: sigma.derivative(a_.copy(), a_), [("a", a)])
    report.compare("derivative_from_a", errors(from_a, d), lambda k: (
        f"{what} reads z although derivative_from_a is True: at z={g(z[k])} "
        f"derivative(a, a) gives {g(np.asarray(from_a)[k])}, derivative(z, a) "
        f"gives {g(d[k])}"))


def _check_batch_dtypes(report, sigma, z):
    """Shapes and dtypes on a 2-D batch, in float64 and float32, as the engine calls them."""
    label = type(sigma).__name__
    into = activation_optional(sigma, "forward_into")
    fused = activation_optional(sigma, "multiply_derivative")
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
            report.check_array(what, out, Z.shape, dtype, "z")
        n_calls += len(calls)
    report.row("shape and dtype", n_calls)

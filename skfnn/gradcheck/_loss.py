"""check_loss: a loss's gradient, weighting and output error δ^L, one named check each."""

from dataclasses import dataclass
from functools import partial

import numpy as np
from sklearn.utils import check_random_state

from ..activations import optional as activation_optional
from ..losses import expand_target, get_loss
from ..losses import optional as loss_optional
from ._points import Point, activations_to_check, draw_z, target_domain, targets
from ._report import Report, column_differences, errors, g, kink_margin, near_kinks, vec


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
    loss = as_loss(loss)
    rng = check_random_state(random_state)
    case = _loss_case(loss, activation, y, z, (n_samples, n_outputs), rng, eps)
    report = Report("check_loss", repr(loss), tol, eps)
    values = _per_sample(report, case)
    if values is not None:
        _check_gradient(report, case, values)
        _check_weighted_mean(report, case, values, rng.uniform(0.1, 2.0, case.Y.shape[0]))
        for point in case.points:
            _check_delta(report, case, values, point)
        report.row("shape and dtype", 1 + len(case.points))
    return report.result(raise_on_failure)


def as_loss(spec):
    """A loss from a name, an object or a class (instantiated without arguments)."""
    if isinstance(spec, type):
        spec = spec()
    return get_loss(spec)


@dataclass(frozen=True)
class _LossCase:
    """A loss and the points it is checked at."""

    loss: object
    Y: np.ndarray  # the targets, (n, k)
    Yx: np.ndarray  # y beside each block of the loss's output head, (n, m·k): residuals a − y
    points: tuple  # a Point (σ, Z, A) per output activation, the loss's default first
    kinks: tuple  # the loss's kinks in a − y
    margin: float  # how close to a kink a point may lie and still be checked

    @property
    def label(self):
        return type(self.loss).__name__

    def delta_name(self, sigma):
        return f"delta of {self.label} with {type(sigma).__name__}"


def _loss_case(loss, activation, y, z, shape, rng, eps):
    """The loss's targets and, per output activation, the points Z, A = σ(Z) to check at."""
    sigmas = activations_to_check(loss, activation)
    domain = target_domain(loss, kink_margin(eps))
    Y, Z_given = targets(loss, y, z, shape, domain, rng)
    Yx = expand_target(loss, Y)
    points = []
    for sigma in sigmas:
        Z = Z_given if Z_given is not None else draw_z(sigma, Yx, domain, rng)
        with np.errstate(all="ignore"):
            points.append(Point(sigma, Z, np.asarray(sigma.forward(Z), dtype=np.float64)))
    return _LossCase(loss, Y, Yx, tuple(points), domain.kinks, domain.margin)


def _per_sample(report, case):
    """The per-sample loss ℓ(y_i, a_i), summed over outputs, as a function of (Y, A).

    ``per_sample(y, a)`` if the loss has one, else ``loss(y[i:i+1], a[i:i+1])``
    row by row. None, with the problem noted, when per_sample does not return
    one value per sample.
    """
    loss, Y, A = case.loss, case.Y, case.points[0].A
    use_per_sample = callable(getattr(loss, "per_sample", None))
    if use_per_sample:
        try:
            values = np.asarray(loss.per_sample(Y, A))
        except NotImplementedError:
            use_per_sample = False
        else:
            if values.shape != (Y.shape[0],):
                report.problem(
                    f"per_sample of {case.label} returned an array of shape {values.shape} "
                    f"for {Y.shape[0]} samples; it must return one value per sample, summed "
                    f"over the outputs: shape ({Y.shape[0]},)"
                )
                return None

    def loss_values(Y, A):
        with np.errstate(all="ignore"):
            if use_per_sample:
                return np.asarray(loss.per_sample(Y, A), dtype=np.float64)
            return np.array([float(loss(Y[i:i + 1], A[i:i + 1])) for i in range(len(Y))])

    return loss_values


def _check_gradient(report, case, values):
    """gradient(y, a) against central differences of ℓ in a; its shape and float32 dtype."""
    loss, Y, Yx, A = case.loss, case.Y, case.Yx, case.points[0].A
    what = f"gradient of {case.label}"
    G = report.call(what, loss.gradient, [("y", Y), ("a", A)])
    if not report.check_array(what, G, A.shape, A.dtype, "a"):
        return
    G = np.asarray(G, dtype=np.float64)
    fd = column_differences(lambda A_: values(Y, A_), A, report.eps)
    skip = near_kinks(A - Yx, case.kinks, case.margin)
    report.compare("gradient", np.where(skip, 0.0, errors(G, fd)), lambda ik: (
        f"{what} differs from the finite difference of its per-sample loss at "
        f"y={g(Yx[ik])}, a={g(A[ik])} (sample {ik[0]}, output {ik[1]}) by "
        f"{g(abs(G[ik] - fd[ik]))} (gradient {g(G[ik])}, finite difference "
        f"{g(fd[ik])})"), masked=skip)
    G32 = loss.gradient(Y.astype(np.float32), A.astype(np.float32))
    report.check_array(what, G32, A.shape, np.float32, "y and a")


def _check_weighted_mean(report, case, values, s):
    """loss(y, a) is the mean of the per-sample values, loss(y, a, s) their weighted mean."""
    Y, A = case.Y, case.points[0].A
    ell = values(Y, A)
    found = []
    for weights, expected, name in ((None, ell.mean(), "the mean"),
                                    (s, (s * ell).sum() / s.sum(),
                                     "the weighted mean Σ s_i ℓ_i / Σ s_i")):
        args = (Y, A) if weights is None else (Y, A, weights)
        got = float(case.loss(*args))  # positionally, as the engine calls it
        found.append(float(errors(got, expected)))
        if not found[-1] <= report.tol:
            call = (f"{case.label}(y, a)" if weights is None
                    else f"{case.label}(y, a, sample_weight)")
            report.problem(f"{call} returned {got:.6g} but {name} of its per-sample values "
                           f"is {expected:.6g}")
    report.row("sample_weight", 2, max_error=max(found))


def _check_delta(report, case, values, point):
    """delta(y, z, a, σ): its arguments untouched, a new array of z's shape, its values, float32."""
    D = _delta_leaving_arguments(report, case, point)
    if report.check_array(case.delta_name(point.sigma), D, point.Z.shape, point.Z.dtype, "z"):
        _compare_delta(report, case, values, point, np.asarray(D, dtype=np.float64))
        _check_delta_float32(report, case, point)


def _delta_leaving_arguments(report, case, point):
    """delta(y, z, a, σ), noting an argument it modified or returned (the engine scales δ^L)."""
    what = case.delta_name(point.sigma)
    inputs = [("y", case.Y), ("z", point.Z), ("a", point.A)]
    copies = [np.array(v, copy=True) for _, v in inputs]
    D = case.loss.delta(*copies, point.sigma)
    for (name, value), copy_ in zip(inputs, copies, strict=True):
        if not np.array_equal(value, copy_, equal_nan=True):
            report.problem(f"{what} modified its input {name} in place; it must leave "
                           "its arguments unchanged")
        elif isinstance(D, np.ndarray) and np.shares_memory(D, copy_):
            report.problem(f"{what} returned its input {name} (or a view of it); it "
                           "must return a new array, which the engine scales in place "
                           "by the sample weights")
    return D


def _compare_delta(report, case, values, point, D):
    """δ^L against central differences of ℓ(y, σ(z)) in z, through forward of whole rows.

    For a σ of whole rows (softmax) the difference goes through the full
    Jacobian, which the shortcut δ^L = a − y must match; a row is then
    skipped whole when one of its entries lies near a kink.
    """
    sigma, Z, A = point
    fd = column_differences(
        lambda Z_: values(case.Y, np.asarray(sigma.forward(Z_), np.float64)), Z, report.eps)
    skip = (near_kinks(A - case.Yx, case.kinks, case.margin)
            | near_kinks(Z, tuple(activation_optional(sigma, "kinks") or ()), case.margin))
    if not activation_optional(sigma, "elementwise"):
        skip = np.repeat(skip.any(axis=1, keepdims=True), Z.shape[1], axis=1)
    report.compare("delta", np.where(skip, 0.0, errors(D, fd)),
                   partial(_describe_delta, case, point, D, fd),
                   activation=type(sigma).__name__, masked=skip)


def _describe_delta(case, point, D, fd, ik):
    """The problem text for the largest δ^L error, at sample i, output k."""
    (i, k), (sigma, Z, A), Y = ik, point, case.Yx
    act = type(sigma).__name__
    at = (f"y={g(Y[i, k])}, z={g(Z[i, k])} (sample {i}, output {k}; a={g(A[i, k])})"
          if activation_optional(sigma, "elementwise")
          else f"y={vec(Y[i])}, z={vec(Z[i])} (sample {i}, output {k})")
    link = loss_optional(case.loss, "canonical_link")
    hint = ""
    if isinstance(link, type) and isinstance(sigma, link) and type(sigma) is not link:
        hint = (f" ({case.label} takes the canonical shortcut δ = a − y because {act} is a "
                f"subclass of {link.__name__}, but {act} is a different function)")
    return (f"{case.delta_name(sigma)} differs from the finite difference of ℓ(y, σ(z)) at "
            f"{at} by {g(abs(D[i, k] - fd[i, k]))} (delta {g(D[i, k])}, finite difference "
            f"{g(fd[i, k])}){hint}")


def _check_delta_float32(report, case, point):
    """δ^L keeps float32, unless the activation's derivative is what promotes it."""
    sigma, Z, _ = point
    what, act = case.delta_name(sigma), type(sigma).__name__
    with np.errstate(all="ignore"):
        A32 = np.asarray(sigma.forward(Z.astype(np.float32))).astype(np.float32)
        D32 = case.loss.delta(case.Y.astype(np.float32), Z.astype(np.float32), A32, sigma)
    if (np.asarray(D32).dtype != np.float32 and activation_optional(sigma, "elementwise")
            and np.asarray(sigma.derivative(Z.astype(np.float32), A32)).dtype != np.float32):
        report.problem(f"{what} returned {np.asarray(D32).dtype} for float32 inputs "
                       f"because derivative of {act} does (see check_activation)")
    else:
        report.check_array(what, D32, Z.shape, np.float32, "y, z and a")

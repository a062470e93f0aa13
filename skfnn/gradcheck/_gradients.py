"""check_gradients: the whole network's ∇J against central differences, block by block."""

import numpy as np
from sklearn.utils import check_random_state

from .. import _engine
from ..losses import expand_target
from ._estimator import final_step, training_problem
from ._report import Report


def check_gradients(estimator, X, y, sample_weight=None, *, eps=1e-6, tol=1e-6,
                    max_params=2000, random_state=0, raise_on_failure=True):
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
    raise_on_failure : bool, default=True
        Raise :class:`GradientCheckError` (an ``AssertionError``) naming the
        first block that fails, instead of returning a failed result. The
        default of all three checks: a failed check called bare, in a test or
        a script, cannot go unnoticed.

    Returns
    -------
    result : CheckResult
        Prints as a per-layer table; ``result.passed`` is the verdict and
        ``result.blocks`` the rows, one per W^l and b^l.

    Raises
    ------
    GradientCheckError
        If the check fails and ``raise_on_failure`` is True.
    TypeError
        If ``estimator`` is not an FNNRegressor or FNNClassifier (or a
        Pipeline ending in one).

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
    subject = repr(estimator)
    estimator, X = final_step(estimator, X, y)
    X, Y, sample_weight, theta, net = training_problem(estimator, X, y, sample_weight)
    rng = check_random_state(random_state)
    # Dropout makes J random: one draw of the masks, held fixed for every evaluation,
    # gives the deterministic objective whose gradient one training step uses.
    masks = net.draw_masks(rng, X.shape[0], np.float64) if net.has_dropout else None
    J0, grad = _engine.loss_and_gradient(net, theta, X, Y, sample_weight, masks=masks)
    subset = theta.size > max_params
    indices = (np.sort(rng.choice(theta.size, max_params, replace=False)) if subset
               else np.arange(theta.size))
    objective = _objective(net, X, Y, sample_weight, masks)
    numerical, valid = _central_differences(objective, theta, indices, eps)
    report = Report("check_gradients", subject, tol, eps)
    _compare_blocks(report, net.layout, indices, (grad[indices], numerical), valid)
    return report.result(
        raise_on_failure, n_params=theta.size, subset=subset, loss=J0,
        gradient=grad[indices], numerical_gradient=numerical, indices=indices,
        dropout=net.dropout if masks is not None else None,
    )


def _objective(net, X, Y, sample_weight, masks):
    """θ ↦ (J(θ), which side of each kink every pre-activation and residual lies on)."""
    def evaluate(theta):
        J, Zs, As = _engine.objective_at(net, theta, X, Y, sample_weight, masks)
        sides = [Z > k for Z, kinks in zip(Zs[1:], net.kinks, strict=True) for k in kinks]
        # The residual a − y, y repeated for each block of the loss's output head.
        sides += [(As[-1] - expand_target(net.loss, Y)) > k for k in net.loss_kinks]
        pattern = (np.concatenate([s.ravel() for s in sides]) if sides
                   else np.empty(0, dtype=bool))
        return J, pattern
    return evaluate


def _central_differences(objective, theta, indices, eps):
    """(J(θ + εe_i) − J(θ − εe_i)) / 2ε at each i of ``indices``, and where it is valid.

    Near a kink a difference measures a one-sided mixture of two slopes, not
    the derivative: a coordinate whose ±ε step moves some pre-activation (or
    residual) across a kink is not valid.
    """
    _, pattern = objective(theta)
    numerical = np.empty(indices.size)
    valid = np.ones(indices.size, dtype=bool)
    for n, i in enumerate(indices):
        J = []
        for step in (eps, -eps):
            point = theta.copy()
            point[i] += step
            J_step, pattern_step = objective(point)
            J.append(J_step)
            valid[n] &= np.array_equal(pattern, pattern_step)
        numerical[n] = (J[0] - J[1]) / (2 * eps)
    return numerical, valid


def _compare_blocks(report, layout, indices, gradients, valid):
    """One row per W^l and b^l (in layer order) and a problem per block beyond tol.

    ``gradients``: the backprop and finite-difference gradients at ``indices``.
    """
    L = layout.n_layers
    shapes = layout.coef_shapes + [(n,) for n in layout.layer_units[1:]]
    order = sorted(range(2 * L), key=lambda block: (block % L, block >= L))
    for block in order:
        layer, param = block % L + 1, "W" if block < L else "b"
        in_block = (indices >= layout.bounds[block]) & (indices < layout.bounds[block + 1])
        use = in_block & valid
        where, max_abs, max_rel = _largest_error(
            [gradient[use] for gradient in gradients], indices[use] - layout.bounds[block],
            shapes[block])
        report.row(f"{param}^{layer}", int(use.sum()), n_skipped=int((in_block & ~valid).sum()),
                   max_error=max_rel, layer=layer, param=param, max_abs_error=max_abs,
                   where=where)
        if not max_rel <= report.tol:
            report.problem(
                f"backprop's gradient in {param}^{layer} differs from the finite differences "
                f"of J by {max_rel:.2e} relative to the block's scale (tol "
                f"{report.tol:.0e}); the largest error, {max_abs:.2e}, is at "
                f"{'coefs_' if param == 'W' else 'intercepts_'}[{layer - 1}]{list(where)}")


def _largest_error(gradients, offsets, shape):
    """Where in the block the backprop and finite-difference gradients differ most.

    Returns the index into the block's array, max_i |g_i − g̃_i| and that error
    relative to the block's scale max_i max(|g_i|, |g̃_i|), floored at 1e-8 so
    that a block whose gradient vanishes is judged in absolute terms.
    """
    grad, numerical = gradients
    error = np.abs(grad - numerical)
    if not error.size:
        return None, 0.0, 0.0
    k = int(np.argmax(error))
    where = tuple(int(i) for i in np.unravel_index(offsets[k], shape))
    scale = max(np.abs(grad).max(), np.abs(numerical).max(), 1e-8)
    return where, float(error[k]), float(error[k] / scale)

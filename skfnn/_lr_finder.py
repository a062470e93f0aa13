"""The learning-rate range test (Smith, 2017): :func:`lr_finder`.

One minibatch step per rate, the rates growing exponentially from ``start``
to ``end``, on a clone of the estimator: the user's estimator is not touched.
The steps are the fit's own: the estimator's network
(:func:`skfnn._engine.loss_and_gradient`), its optimizer (whose learning rate
is set before each step, in place of the schedule's), its batch size,
shuffling, dropout and ``clip_norm``. As fastai's and PyTorch Lightning's
finders, the loss recorded for rate η_i is the minibatch loss at the weights
the steps with η_0, ..., η_{i−1} reached (the loss before the step with η_i),
smoothed by a bias-corrected exponential moving average.
"""

import math
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils import shuffle as _shuffle

from . import _engine, _model, _problem
from ._array_api import astype, rows
from ._dask import is_dask_collection
from ._fitting import make_optimizer
from ._problem import STOCHASTIC_SOLVERS as _STOCHASTIC_SOLVERS
from ._threads import blas_threads_for
from ._training import _blame, _first_checked, batch_size, clip_gradient
from .plotting import LearningRateFinderDisplay

__all__ = ["lr_finder", "suggest_rate"]



def lr_finder(estimator, X, y, *, sample_weight=None, start=1e-7, end=10.0, num=100,
              smoothing=0.9, diverge=4.0):
    """Leslie Smith's learning-rate range test on a clone of ``estimator``.

    Starting from the clone's initial weights, takes one minibatch step (the
    estimator's solver, batch size, shuffling, dropout and ``clip_norm``) at
    each of ``num`` rates η_i = start · (end / start)^(i / (num − 1)), and
    records the loss. The loss of step i is the minibatch loss before that
    step, at the weights the rates η_0 ... η_{i−1} reached, smoothed as
    L̄_i = a_i / (1 − β^(i+1)) with a_i = β a_{i−1} + (1 − β) J_i (β is
    ``smoothing``, a_{−1} = 0). The test stops early when L̄_i exceeds
    ``diverge`` times the lowest L̄ so far, or is not finite.

    The suggested rate is where the smoothed loss falls fastest: the rate of
    the most negative slope dL̄ / d(log η) (numpy's ``gradient``), leaving out
    the first 10 points and the last (:func:`suggest_rate`), as PyTorch
    Lightning's tuner suggests. It lies inside the range where training
    makes progress, whereas the rate of the lowest loss sits at the edge of
    divergence (and the moving average's lag pushes it further); the
    rule of thumb "the minimum divided by 10" is
    ``learning_rates[argmin(losses)] / 10`` on the result.

    Parameters
    ----------
    estimator : FNNClassifier or FNNRegressor
        With a stochastic solver ("sgd", "adam", "adamw" or "rmsprop"); not
        modified (fitted or not, it is cloned: the test starts from the
        initial weights its parameters and ``random_state`` give).
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    sample_weight : array-like of shape (n_samples,), default=None
    start, end : float, default=1e-7, 10.0
        The first and the last rate, 0 < start < end.
    num : int, default=100
        The number of rates, hence of steps (≥ 2); epochs repeat as needed.
    smoothing : float, default=0.9
        β of the moving average, in [0, 1); 0 records the raw losses. The
        average spans about 1 / (1 − β) steps and lags as much behind the
        rates: fastai's and Lightning's β = 0.98 averages 50 of the 100
        default steps, four decades of rates, and shifts the curve and the
        suggestion toward larger rates (adam on the digits: 0.24, where
        β = 0.9 suggests 0.038 and the raw losses are lowest near 0.3).
    diverge : float or None, default=4.0
        Stop once the smoothed loss exceeds this many times its minimum so
        far (> 1); None runs every rate (stopping only at a non-finite loss).

    Returns
    -------
    display : LearningRateFinderDisplay
        ``learning_rates``, ``losses`` (smoothed), ``raw_losses`` and
        ``suggestion``; call ``.plot()`` to draw it (matplotlib).

    Raises
    ------
    ValueError
        For ``solver="lbfgs"`` (no learning rate), bad arguments, or a loss
        that is not finite at the initial weights.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import scale
    >>> from skfnn import FNNClassifier, lr_finder
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = FNNClassifier((16,), batch_size=16, random_state=0)
    >>> result = lr_finder(clf, scale(X), y, start=1e-5, end=10, num=60)
    >>> len(result.learning_rates) == len(result.losses) <= 60
    True
    >>> bool(1e-5 < result.suggestion < 10)
    True
    >>> hasattr(clf, "coefs_")  # the estimator itself is untouched
    False
    """
    _check_arguments(estimator, X, start, end, num, smoothing, diverge)
    model = clone(estimator)
    model._validate_params()
    problem = _problem.build(model, X, y, sample_weight, incremental=False)
    random_state = check_random_state(model.random_state)
    theta = _model.start(model, problem, random_state)
    X, Y, sample_weight, net = problem.X, problem.Y, problem.sample_weight, problem.net
    rates = np.geomspace(start, end, num)
    size = batch_size(model.batch_size, X.shape[0])
    steps = _Steps(model, net, theta, (X, Y, sample_weight), size, random_state)
    with blas_threads_for(size, net.layer_units), np.errstate(over="ignore", invalid="ignore"):
        raw, smoothed = _range_test(steps, rates, smoothing, diverge)
    rates = rates[:len(raw)]
    return LearningRateFinderDisplay(learning_rates=rates, losses=np.asarray(smoothed),
                                     raw_losses=np.asarray(raw),
                                     suggestion=suggest_rate(rates, smoothed))


def _range_test(steps, rates, smoothing, diverge):
    """The raw and smoothed losses, one step per rate until the loss diverges."""
    raw, smoothed, average, best = [], [], 0.0, math.inf
    for i, rate in enumerate(rates):
        J = steps.loss()
        if i == 0 and not math.isfinite(J):
            raise ValueError(f"lr_finder: the training loss at the initial weights is {J}; "
                             "check the data (scale X) and the loss.")
        average = smoothing * average + (1 - smoothing) * J
        raw.append(J)
        smoothed.append(average / (1 - smoothing ** (i + 1)))
        if not math.isfinite(smoothed[-1]) or (diverge is not None
                                               and smoothed[-1] > diverge * best):
            break
        best = min(best, smoothed[-1])
        steps.step(rate)
    return raw, smoothed


class _Steps:
    """The fit's minibatch steps, one at a time: ``loss()`` evaluates J and ∇J on the
    next batch, ``step(rate)`` takes the optimizer's step with that learning rate."""

    def __init__(self, model, net, theta, data, size, random_state):
        self.net, self.theta, self.data = net, theta, data
        self.grad = net.xp.empty_like(theta)
        self.workspace = _engine.Workspace(net, size, theta.dtype, theta, self.grad)
        self.optimizer = make_optimizer(model, theta)
        self.clip_norm = model.clip_norm
        self.random_state = random_state
        self.nets = _first_checked(net)
        self.batches = _batches(net, data[0].shape[0], size, model.shuffle, random_state)

    def loss(self):
        X, Y, sample_weight = self.data
        idx, n = next(self.batches)
        sw = None if sample_weight is None else rows(sample_weight, idx)
        Y_batch, X_batch = astype(rows(Y, idx), self.theta.dtype), rows(X, idx)
        ws = self.workspace.rows(n)
        masks = (self.net.draw_masks(self.random_state, n, self.theta.dtype, ws)
                 if self.net.has_dropout else None)
        args = (self.theta, X_batch, Y_batch, sw, self.grad, ws, masks)
        net = next(self.nets)
        try:
            J, _ = _engine.loss_and_gradient(net, *args)
        except ValueError as error:
            _blame(self.net, net, error, *args)
        return float(J)

    def step(self, rate):
        if self.clip_norm is not None:
            clip_gradient(self.grad, self.clip_norm)
        self.optimizer.learning_rate = float(rate)  # in place of the schedule's (and warm-up's)
        self.optimizer.step(self.theta, self.grad, self.workspace.scratch)


def _batches(net, n_samples, size, shuffle, random_state):
    """(rows, n) of successive minibatches, epoch after epoch, ordered as fit orders them."""
    sample_idx = np.arange(n_samples)
    while True:
        if shuffle:
            sample_idx = _shuffle(sample_idx, random_state=random_state)
        order = net.on_device(sample_idx) if shuffle else None
        for batch in gen_batches(n_samples, size):
            yield (batch if order is None else order[batch]), batch.stop - batch.start


def suggest_rate(learning_rates, losses, *, skip_begin=10, skip_end=1):
    """The rate where the loss falls fastest against log(rate), or None if it never falls.

    Parameters
    ----------
    learning_rates : array-like of shape (n,)
        Increasing rates.
    losses : array-like of shape (n,)
        The (smoothed) loss at each rate.
    skip_begin, skip_end : int, default=10, 1
        Points left out at each end, as PyTorch Lightning's ``suggestion``: the
        first smoothed losses average only a few noisy batches, and the last
        one is where the test stopped (diverged).

    Returns
    -------
    rate : float or None
        ``learning_rates[i]`` for the i (among the points kept) of the most
        negative ``numpy.gradient(losses, log(learning_rates))``; None, with a
        warning, when fewer than 3 finite points are kept or the loss never falls.
    """
    rates = np.asarray(learning_rates, dtype=float)[skip_begin:len(learning_rates) - skip_end]
    losses = np.asarray(losses, dtype=float)[skip_begin:len(losses) - skip_end]
    finite = np.isfinite(losses)
    if finite.sum() < 3:
        warnings.warn(f"lr_finder: fewer than 3 finite losses after the first {skip_begin} "
                      f"and the last {skip_end}, no rate suggested; lower start (the loss "
                      "diverged early) or raise num.", stacklevel=2)
        return None
    rates, losses = rates[finite], losses[finite]
    slopes = np.gradient(losses, np.log(rates))
    i = int(np.argmin(slopes))
    if not slopes[i] < 0:
        warnings.warn("lr_finder: the loss never decreased over the rates tried, no rate "
                      "suggested; widen the range (a smaller start, a larger end).",
                      stacklevel=2)
        return None
    return float(rates[i])


def _check_arguments(estimator, X, start, end, num, smoothing, diverge):
    from ._base import BaseFNN

    if not isinstance(estimator, BaseFNN):
        raise TypeError(f"lr_finder needs an FNNClassifier or FNNRegressor, got "
                        f"{type(estimator).__name__} (for a Pipeline, transform X with its "
                        "first steps and pass the last one).")
    if estimator.solver not in _STOCHASTIC_SOLVERS:
        raise ValueError(f"lr_finder needs a stochastic solver {_STOCHASTIC_SOLVERS}: "
                         f"solver={estimator.solver!r} takes no learning rate.")
    if is_dask_collection(X):
        raise TypeError("lr_finder needs in-memory data (numpy or array-API arrays); "
                        "compute a sample of the Dask collection first.")
    for name, value in (("start", start), ("end", end)):
        if isinstance(value, bool) or not isinstance(value, Real) or not 0 < value < math.inf:
            raise ValueError(f"lr_finder's {name} must be a positive finite number, "
                             f"got {value!r}.")
    if not start < end:
        raise ValueError(f"lr_finder needs start < end, got start={start!r}, end={end!r}.")
    if isinstance(num, bool) or not isinstance(num, Integral) or num < 2:
        raise ValueError(f"lr_finder's num must be an integer ≥ 2, got {num!r}.")
    if isinstance(smoothing, bool) or not isinstance(smoothing, Real) or \
            not 0 <= smoothing < 1:
        raise ValueError(f"lr_finder's smoothing must be in [0, 1), got {smoothing!r}.")
    if diverge is not None and (isinstance(diverge, bool) or not isinstance(diverge, Real)
                                or not 1 < diverge < math.inf):
        raise ValueError(f"lr_finder's diverge must be a number > 1 or None, got {diverge!r}.")

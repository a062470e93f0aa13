"""The learning-rate range test (Smith, 2017) behind :func:`skfnn.lr_finder`.

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
from ._dask import is_dask_collection
from ._fitting import make_optimizer
from ._problem import STOCHASTIC_SOLVERS as _STOCHASTIC_SOLVERS
from ._threads import blas_threads_for
from ._training import _first_checked, batch_loss, batch_size, clip_gradient

__all__ = ["range_test", "suggest_rate"]

def range_test(estimator, X, y, *, sample_weight=None, start=1e-7, end=10.0, num=100,
               smoothing=0.9, diverge=4.0):
    """The range test of :func:`skfnn.lr_finder` (which see), as plain arrays.

    Returns
    -------
    learning_rates, losses, raw_losses : ndarray
        The rates tried, the smoothed and the raw losses.
    suggestion : float or None
        :func:`suggest_rate` of the smoothed curve.
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
    return rates, np.asarray(smoothed), np.asarray(raw), suggest_rate(rates, smoothed)


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
        return float(batch_loss(self.net, next(self.nets), self.theta, self.data,
                                next(self.batches), self.grad, self.workspace,
                                random_state=self.random_state))

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
    """The rate where the loss falls fastest against log(rate) on its way down to its
    lowest value, or None if it never falls.

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
        ``learning_rates[i]`` for the i (among the points kept, up to the lowest
        loss) of the most negative ``numpy.gradient(losses, log(learning_rates))``;
        None, with a warning, when fewer than 3 finite points are kept or the loss
        never falls.
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
    # Past the lowest loss training has diverged: a later fall (a diverged network
    # drifting, below the `diverge` threshold) is not a rate to train at.
    lowest = int(np.argmin(losses)) + 1
    rates, losses = rates[:lowest], losses[:lowest]
    slopes = np.gradient(losses, np.log(rates)) if lowest > 1 else np.zeros(1)
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

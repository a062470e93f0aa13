"""The rules that run around the training steps, as small hooks on one mechanism.

Everything scikit-learn's MLP does around its steps (record the loss curve,
print when verbose, the ``tol`` / ``n_iter_no_change`` rule with the adaptive
learning rate, early stopping with best-weight restore, the divergence guard,
the max-iter warning) is a :class:`Hook` here, and so is the bridge to
scikit-learn's callback API (:class:`CallbackBridge`). The training loops
(:mod:`skfnn._training`) call every hook at the same four points:

``begin(run)``
    once, before the first step;
``epoch_begin(run)``
    before each epoch (stochastic solvers) or L-BFGS iteration;
``epoch_end(run)``
    after it, in the order of the list: a hook reads the epoch's record
    ``run.epoch`` (:class:`~skfnn._training.Epoch`) with what earlier hooks
    added to it, and may set ``run.stop`` to end training;
``end(run)``
    once, after the last step (also after Ctrl-C).

A fit chooses its hooks (:func:`skfnn._fitting.hooks_for`); the fitted
attributes they maintain (``loss_curve_``, ``n_iter_``, ...) are scikit-learn's,
on the estimator ``run.estimator``, written through :mod:`skfnn._model`.
"""


import numpy as np
from sklearn.exceptions import ConvergenceWarning

from . import _engine, _model
from ._array_api import all_finite, array_namespace, astype, rows
from ._threads import blas_threads_for
from ._warn import warn_user
from .optimizers import REDUCED_LEARNING_RATE, STOP, STOP_SMALL_LEARNING_RATE

__all__ = [
    "CallbackBridge",
    "DivergenceGuard",
    "EarlyStopping",
    "History",
    "Hook",
    "LbfgsOutcome",
    "LbfgsWarning",
    "MaxIterWarning",
    "NoImprovementStop",
    "TrainingLossPlateau",
    "ValidationMonitor",
    "Verbose",
    "call",
    "improved",
]


def improved(score, best, tol):
    """scikit-learn's MLP rule for one epoch: not ``tol`` or more below the best score.

    Higher scores are better (the training loss is judged negated): the epoch
    improved unless ``score < best + tol``.
    """
    return not score < best + tol


def call(hooks, point, run):
    """Call ``point`` ("begin", "epoch_begin", "epoch_end" or "end") of every hook."""
    for hook in hooks:
        getattr(hook, point)(run)


class Hook:
    """A rule of training; every method is optional (the defaults do nothing)."""

    def begin(self, run):
        """Before the first step."""

    def epoch_begin(self, run):
        """Before each epoch or L-BFGS iteration."""

    def epoch_end(self, run):
        """After each epoch or L-BFGS iteration; set ``run.stop`` to end training."""

    def end(self, run):
        """After the last step."""


class History(Hook):
    """Records ``n_iter_``, ``t_``, ``loss_`` and ``loss_curve_`` after each epoch."""

    def epoch_end(self, run):
        _model.record_epoch(run.estimator, run.epoch.loss, run.samples_per_epoch)


class ValidationMonitor(Hook):
    """Scores the validation set after each epoch: ``validation_loss_curve_``, the score.

    Parameters
    ----------
    validation : ValidationSet
    score : callable
        ``score(estimator, output, loss, validation)``: the scoring rule.
    penalty_weight : float
        m in the L2 term α‖W‖² / (2 m) of the validation loss (see
        :func:`skfnn._fitting.hooks_for`).
    """

    def __init__(self, validation, score, penalty_weight):
        self.validation, self.score, self.penalty_weight = validation, score, penalty_weight

    def epoch_end(self, run):
        est, v, net, epoch = run.estimator, self.validation, run.net, run.epoch
        output = _outputs(run, v.X)
        if all_finite(output):
            loss = float(net.loss(astype(v.Y, output.dtype), output, v.sample_weight))
            loss += float(_engine.penalty(net.alpha, net.layout.weight_vectors(run.theta),
                                          self.penalty_weight))
            epoch.score = self.score(est, output, loss, v)
        else:
            loss = epoch.score = np.nan
        epoch.validation_loss = loss
        _model.record_validation(est, loss, epoch.score)


class TrainingLossPlateau(Hook):
    """Judges an epoch by the training loss: improved if it fell by more than ``tol``."""

    def epoch_end(self, run):
        est, epoch = run.estimator, run.epoch
        epoch.judged_by = "Training loss"
        epoch.improved = improved(-epoch.loss, -est.best_loss_, est.tol)
        _model.record_best_loss(est, epoch.loss)


class EarlyStopping(Hook):
    """Judges an epoch by its validation score; keeps the best weights and restores them.

    The score is the one :class:`ValidationMonitor` recorded this epoch.
    """

    def epoch_end(self, run):
        est, epoch = run.estimator, run.epoch
        epoch.judged_by = "Validation score"
        epoch.improved = improved(epoch.score, est.best_validation_score_, est.tol)
        _model.record_best_score(est, epoch.score, run.theta)

    def end(self, run):
        run.theta[...] = run.estimator._best_theta


class NoImprovementStop(Hook):
    """After ``n_iter_no_change`` epochs without improvement, the optimizer decides.

    It stops training, or (``learning_rate="adaptive"``) divides its learning
    rate by 5 and training goes on. Also ends each epoch of the optimizer's
    schedule (``iteration_ends``), in scikit-learn's order.
    """

    def epoch_end(self, run):
        est, epoch = run.estimator, run.epoch
        count = _model.record_no_improvement(est, epoch.improved)
        run.optimizer.iteration_ends(est.t_)
        if count > est.n_iter_no_change:
            epoch.plateau = run.optimizer.on_plateau()
            if epoch.plateau == REDUCED_LEARNING_RATE:
                _model.record_no_improvement(est, True)  # a new rate: counting starts again
            else:
                run.stop = "plateau"


_PLATEAU_TEXT = {
    STOP: " Stopping.",
    STOP_SMALL_LEARNING_RATE: " Learning rate too small. Stopping.",
    REDUCED_LEARNING_RATE: " Setting learning rate to %f",
}


class Verbose(Hook):
    """Prints what scikit-learn's MLP prints with ``verbose=True``, line for line."""

    def epoch_end(self, run):
        est, epoch = run.estimator, run.epoch
        # scikit-learn's lines, written with its own format strings.
        print("Iteration %d, loss = %.8f" % (est.n_iter_, est.loss_))  # noqa: UP031
        if epoch.score is not None:
            print("Validation score: %f" % epoch.score)  # noqa: UP031
        if epoch.plateau is not None:
            text = "%s did not improve more than tol=%f for %d consecutive epochs." % (  # noqa: UP031
                epoch.judged_by, est.tol, est.n_iter_no_change)
            suffix = _PLATEAU_TEXT[epoch.plateau]
            if epoch.plateau == REDUCED_LEARNING_RATE:
                suffix %= run.optimizer.learning_rate
            print(text + suffix)


#: scikit-learn's words for a diverged fit; skfnn's message starts with them so
#: that code matching scikit-learn's message keeps working.
SKLEARN_DIVERGENCE_MESSAGE = (
    "Solver produced non-finite parameter weights. The input data may contain large "
    "values and need to be preprocessed."
)

#: A typical minibatch loss this many times the fit's first (or 1, whichever is
#: larger) has exploded: no healthy fit comes near it (the tests train every
#: solver and loss on the shipped data sets without one alarm).
EXPLOSION_FACTOR = 1e6


class DivergenceGuard(Hook):
    """Stops a diverging fit and raises ValueError at its end.

    Diverged means, after an epoch: a non-finite loss or weight; a *typical*
    minibatch loss of the epoch (the lower median of its batch losses, so that
    a few batches holding outliers of y do not count) grown
    :data:`EXPLOSION_FACTOR` times over the fit's first; or a weight beyond
    what the dtype can train with, finfo(dtype).max ** (1/4) (about 1e77 in
    float64, 4e9 in float32: the products of such weights overflow within a
    few layers). At the end, also a first loss that is not finite, an L-BFGS
    first gradient beyond that bound (L-BFGS may stop before one iteration,
    unseen by ``epoch_end``), a final loss or weights that are not finite,
    or a network whose outputs on the first training rows are not.
    """

    def __init__(self, stochastic):
        self.stochastic = stochastic
        self.problem = None

    def epoch_end(self, run):
        loss, start, at = run.epoch.loss, run.reference_loss, run.estimator.n_iter_
        losses = sorted(run.epoch.batch_losses) if run.epoch.batch_losses else [loss]
        typical = losses[(len(losses) - 1) // 2]
        xp = array_namespace(run.theta)
        largest = max(float(xp.max(run.theta)), -float(xp.min(run.theta)))  # no temporary
        if not np.isfinite(loss):
            self.problem = f"the training loss became {loss} at iteration {at}"
        elif typical > EXPLOSION_FACTOR * max(start, 1.0):
            self.problem = (f"the training loss grew from {start:.3g} at the first step to "
                            f"{typical:.3g} (a typical batch) at iteration {at}")
        elif not np.isfinite(largest):
            self.problem = f"the weights became non-finite at iteration {at}"
        elif largest > _trainable(run.theta):
            self.problem = (f"a weight reached {largest:.3g} at iteration {at}, beyond what "
                            f"{run.theta.dtype} can train with")
        if self.problem is not None:
            run.stop = "diverged"

    def end(self, run):
        if self.problem is None:
            self.problem = self._final_problem(run)
        if self.problem is None:
            return
        advice = (f"; learning_rate_init={run.estimator.learning_rate_init!r} may be too "
                  "large for this data" if self.stochastic else
                  "; check the data, alpha and the loss for values that overflow")
        raise ValueError(f"{SKLEARN_DIVERGENCE_MESSAGE} skfnn: training diverged: "
                         f"{self.problem}{advice}.")

    @staticmethod
    def _final_problem(run):
        """What is wrong with the fit's outcome, or None.

        L-BFGS may end without one completed iteration (scipy's line search
        finds nothing finite from the first point): no ``epoch_end`` has seen
        its loss, so the first and the final ones are checked here.
        """
        start, loss = run.reference_loss, getattr(run.estimator, "loss_", None)
        slope = run.reference_gradient
        if start is not None and not np.isfinite(start):
            return f"the training loss was {start} at the first evaluation"
        if slope is not None and not slope <= _trainable(run.theta):
            return (f"the gradient at the first evaluation reached {slope:.3g}, beyond what "
                    f"{run.theta.dtype} can train with")
        if loss is not None and not np.isfinite(loss):
            return f"the final training loss is {loss}"
        if not all_finite(run.theta):
            return "the final weights are not finite"
        if not all_finite(_outputs(run, rows(run.X, slice(0, min(256, run.X.shape[0]))))):
            return "the final network's outputs overflow (the weights are too large)"
        return None


def _outputs(run, X):
    """A^L for X (validated) at the run's θ; small products on one BLAS thread."""
    Ws, bs = run.net.layout.unpack(run.theta)
    with blas_threads_for(X.shape[0], run.net.layer_units):
        return _engine.predict(run.net, X, Ws, bs)


def _trainable(theta):
    """The largest weight (or L-BFGS's first gradient entry) θ's dtype can train with:
    finfo.max ** (1/4), as products of such numbers overflow within a few layers."""
    return float(array_namespace(theta).finfo(theta.dtype).max) ** 0.25


class MaxIterWarning(Hook):
    """scikit-learn's ConvergenceWarning when the last epoch ran without a stop."""

    def epoch_end(self, run):
        if run.stop is None and run.estimator.n_iter_ == run.max_iter:
            warn_user(
                "Stochastic Optimizer: Maximum iterations (%d) reached and the "  # noqa: UP031
                "optimization hasn't converged yet." % run.max_iter,
                ConvergenceWarning,
            )


class LbfgsOutcome(Hook):
    """Sets the fitted attributes from scipy's result."""

    def end(self, run):
        _model.record_lbfgs(run.estimator, run.result, run.max_iter, run.reference_loss)


class LbfgsWarning(Hook):
    """scikit-learn's ConvergenceWarning when L-BFGS stopped without converging.

    After the divergence guard: a diverged fit gets its error, not this warning.
    """

    def end(self, run):
        est, result = run.estimator, run.result
        if result is not None and result.status != 0 and run.stop is None:
            message = result.message
            if isinstance(message, bytes):
                message = message.decode("latin1")
            warn_user(
                f"lbfgs failed to converge after {result.nit} iteration(s) "
                f"(status={result.status}):\n{message}.\n\nIncrease the number of "
                f"iterations (max_iter={est.max_iter}) or max_fun={est.max_fun}, or "
                "scale the data.",
                ConvergenceWarning,
            )


class CallbackBridge(Hook):
    """scikit-learn's callbacks (``sklearn.callback``) on the training hooks.

    The fit is the root task (the estimator begins and ends it); each epoch, or
    L-BFGS iteration, is a subtask of it. A callback's ``fitted_estimator`` is
    built only when the callback asks for one, from a copy of the weights at
    that point; a truthy return of ``on_fit_task_end`` stops training after
    that epoch.

    Parameters
    ----------
    context : sklearn.callback.CallbackContext
        The fit's root task.
    task_name : str
        The subtasks' name ("epoch" or "lbfgs-iter").
    X, y, metadata
        What the hooks receive: the data as the user passed it, and
        ``{"sample_weight": ...}`` (None without weights).
    """

    def __init__(self, context, task_name, X, y, metadata):
        self.context = context
        self.task_name = task_name
        self.data = dict(X=X, y=y, metadata=metadata)
        self.task = None

    def _fitted(self, run):
        return lambda: _model.snapshot(run.estimator, run.net, run.theta)

    def epoch_begin(self, run):
        self.task = self.context.subcontext(task_name=self.task_name)
        self.task.call_on_fit_task_begin(estimator=run.estimator, **self.data,
                                         reconstruction_attributes=self._fitted(run))

    def epoch_end(self, run):
        task, self.task = self.task, None
        stop = task.call_on_fit_task_end(estimator=run.estimator, **self.data,
                                         reconstruction_attributes=self._fitted(run))
        if stop and run.stop is None:
            run.stop = "callback"

    def end(self, run):
        # A task begun but never run (the iteration after L-BFGS's last, or the
        # epoch Ctrl-C cut short) ends empty, so that every begin has its end.
        if self.task is not None:
            self.task.call_on_fit_task_end(estimator=run.estimator)
            self.task = None

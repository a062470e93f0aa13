"""One fit, end to end: the problem, the model, the optimizer, the hooks, the loop.

::

    problem = _problem.build(est, X, y, ...)      validation, class weights, network
    θ = _model.start(est, problem, random_state)  fresh weights, or the fitted ones
    train(est, problem, θ, ...)                   the solver's loop with this fit's hooks

The estimator (skfnn/_base.py) calls :func:`fit` for in-memory data; Dask's
distributed L-BFGS (skfnn/_dask.py) builds its problem from a stand-in of the
data and calls :func:`train_lbfgs` with its own objective. The hooks of a fit
(:func:`hooks_for`) are chosen here, from the estimator's parameters.
"""

import warnings

from sklearn.metrics import check_scoring
from sklearn.utils import check_random_state

from . import _engine, _hooks, _model, _problem, _training
from ._array_api import array_namespace, device
from ._problem import STOCHASTIC_SOLVERS
from ._sklearn_compat import HAS_CALLBACKS
from ._threads import blas_threads_for
from .optimizers import SGD, Adam, AdamW, RMSprop
from .schedules import get_schedule

__all__ = ["fit", "hooks_for", "make_optimizer", "prepared", "stochastic_run", "train",
           "train_lbfgs"]


def fit(est, X, y, sample_weight, *, incremental, classes=None, validation=None):
    """Fit ``est`` to in-memory (numpy or array-API) data; the callbacks' root task around it."""
    context = _callback_root(est, incremental)
    metadata = None if sample_weight is None else {"sample_weight": sample_weight}
    if context is not None:
        context.call_on_fit_task_begin(estimator=est, X=X, y=y, metadata=metadata)
    problem = _problem.build(est, X, y, sample_weight, incremental=incremental,
                             classes=classes, validation=validation)
    random_state = check_random_state(est.random_state)
    theta = _model.start(est, problem, random_state)
    bridge = None if context is None else _hooks.CallbackBridge(
        context, "epoch" if est.solver in STOCHASTIC_SOLVERS else "lbfgs-iter", X, y, metadata)
    train(est, problem, theta, random_state, incremental, bridge)
    if context is not None:
        context.call_on_fit_task_end(estimator=est, X=X, y=y, metadata=metadata,
                                     reconstruction_attributes={})
    return est


def train(est, problem, theta, random_state, incremental, bridge):
    """Run the solver's training loop on ``problem`` with this fit's hooks."""
    net = problem.net
    if est.solver not in STOCHASTIC_SOLVERS:
        run = _training.Run(est, net, theta, problem.X, problem.Y, problem.sample_weight,
                            max_iter=est.max_iter, samples_per_epoch=0)
        return train_lbfgs(est, run, bridge, problem.validation)
    run, hooks, batch_size = stochastic_run(est, problem, theta, random_state, incremental,
                                            bridge)
    with blas_threads_for(batch_size, net.layer_units):
        _training.fit_stochastic(run, hooks, batch_size=batch_size, shuffle=est.shuffle,
                                 random_state=random_state)


def stochastic_run(est, problem, theta, random_state, incremental, bridge):
    """A stochastic solver's (run, hooks, batch size) for ``problem``, ready to train.

    The optimizer is made (or kept, for partial_fit) and early stopping's
    validation rows are drawn from ``random_state`` here, before the first epoch.
    """
    X, Y, sample_weight, net = problem.X, problem.Y, problem.sample_weight, problem.net
    validation = problem.validation
    _model.begin_training(est)
    if est.early_stopping and incremental:
        raise ValueError("partial_fit does not support early_stopping=True")
    if not incremental or not hasattr(est, "_optimizer"):
        est._optimizer = make_optimizer(est, theta)
    if est.early_stopping and validation is None:
        (X, Y, sample_weight), (X_val, Y_val, sw_val) = _training.split_validation(
            X, Y, sample_weight, fraction=est.validation_fraction,
            stratify=est._stratify_split(), random_state=random_state)
        validation = _problem.ValidationSet(X_val, Y_val, est._decode_target(Y_val), sw_val,
                                            X_val)
    batch_size = _training.batch_size(est.batch_size, X.shape[0])
    run = _training.Run(est, net, theta, X, Y, sample_weight,
                        max_iter=1 if incremental else est.max_iter,
                        samples_per_epoch=X.shape[0], optimizer=est._optimizer,
                        clip_norm=est.clip_norm)
    hooks = hooks_for(est, run, validation, -(-X.shape[0] // batch_size), incremental, bridge)
    return run, hooks, batch_size


def prepared(est, X, y, sample_weight):
    """What ``est.fit(X, y, sample_weight)`` would train, ready: (run, hooks, batch size,
    random state), for a stochastic solver and no callbacks (the model axis,
    :mod:`skfnn._stack`, trains several at once)."""
    est._validate_params()
    problem = _problem.build(est, X, y, sample_weight, incremental=False,
                             validation=(None, None, None))
    random_state = check_random_state(est.random_state)
    theta = _model.start(est, problem, random_state)
    return (*stochastic_run(est, problem, theta, random_state, False, None), random_state)


def train_lbfgs(est, run, bridge=None, validation=None, objective=None):
    """L-BFGS with this fit's hooks; ``objective``: another source of (J, ∇J) (Dask)."""
    _model.begin_training(est)
    hooks = hooks_for(est, run, validation, 1, False, bridge)
    with blas_threads_for(run.X.shape[0], run.net.layer_units):
        _training.fit_lbfgs(run, hooks, max_fun=est.max_fun, tol=est.tol, objective=objective)


def hooks_for(est, run, validation, n_batches, incremental, bridge):
    """The rules of this fit, in the order they see each epoch."""
    stochastic = run.optimizer is not None
    hooks = [_hooks.History()]
    if validation is not None:
        hooks.append(_validation_monitor(est, run, validation, n_batches))
    if stochastic:
        hooks += [_hooks.EarlyStopping() if est.early_stopping
                  else _hooks.TrainingLossPlateau(), _hooks.NoImprovementStop()]
    if est.verbose:
        hooks.append(_hooks.Verbose())
    if bridge is not None:
        hooks.append(bridge)
    hooks.append(_hooks.DivergenceGuard(stochastic))
    if stochastic and not incremental:
        hooks.append(_hooks.MaxIterWarning())
    if not stochastic:
        hooks.insert(0, _hooks.LbfgsOutcome())
        hooks.append(_hooks.LbfgsWarning())
    return hooks


def _validation_monitor(est, run, validation, n_batches):
    """The hook scoring ``validation`` after each epoch, with the L2 term of loss_curve_.

    loss_curve_ is the mean of the epoch's batch objectives, each carrying
    α‖W‖² / (2 Σ s of its batch); the validation loss carries the same
    term at the epoch's final weights, α‖W‖² / (2 m), m = Σ s of the
    training rows / the number of batches (L-BFGS: one batch of all rows).
    """
    weights = _engine.total_weight(run.X, run.sample_weight)
    _model.validation_curves(est)
    return _hooks.ValidationMonitor(validation, _validation_scorer(est),
                                    penalty_weight=float(weights) / n_batches)


def _validation_scorer(est):
    """score(estimator, output, loss, validation): the scoring parameter's rule."""
    scoring = getattr(est, "scoring", None)
    if scoring is None:
        return lambda est, output, loss, v: est._score_outputs(output, v.y, v.sample_weight)
    if scoring == "loss":  # lower is better: recorded negated, as HistGradientBoosting
        return lambda est, output, loss, v: -loss
    scorer = check_scoring(est, scoring)

    def score(est, output, loss, v):
        weights = {} if v.sample_weight is None else {"sample_weight": v.sample_weight}
        with warnings.catch_warnings():  # an internal split's X has no feature names
            warnings.filterwarnings("ignore", "X does not have valid feature names")
            return scorer(est, v.X_user, v.y, **weights)
    return score


def make_optimizer(est, theta):
    """The solver's optimizer for θ, following the learning-rate schedule."""
    common = dict(schedule=get_schedule(est.learning_rate, power_t=est.power_t,
                                        max_iter=est.max_iter),
                  warmup_epochs=est.warmup_epochs, xp=array_namespace(theta),
                  device=device(theta))
    size, dtype, eta = theta.shape[0], theta.dtype, est.learning_rate_init
    if est.solver == "sgd":
        return SGD(size, dtype, eta, est.momentum, est.nesterovs_momentum, **common)
    if est.solver == "rmsprop":
        return RMSprop(size, dtype, eta, est.rho, est.epsilon, **common)
    if est.solver == "adamw":
        return AdamW(size, dtype, eta, est.beta_1, est.beta_2, est.epsilon,
                     est.weight_decay, **common)
    return Adam(size, dtype, eta, est.beta_1, est.beta_2, est.epsilon, **common)


def _callback_root(est, incremental):
    """The root callback task of this fit, or None when no callback listens."""
    if not HAS_CALLBACKS or not (getattr(est, "_skl_callbacks", None)
                                 or hasattr(est, "_parent_callback_ctx")):
        return None
    if incremental:
        n_tasks = 1
    elif est.solver in STOCHASTIC_SOLVERS:
        n_tasks = est.max_iter
    else:  # as scikit-learn's L-BFGS bridge: one more, begun but never run
        n_tasks = est.max_iter + 1
    context = est._init_callback_context(max_subtasks=n_tasks)
    return context if getattr(est, "_skl_callbacks", None) else None

"""The training loops: epochs of minibatch steps, and L-BFGS.

Both act on the packed parameter vector θ in place through the engine's one
(J, ∇J) function, and run the hooks of :mod:`skfnn._hooks` at fixed points::

    stochastic (sgd, adam, adamw, rmsprop)    L-BFGS
    ----------------------                    ------
    begin                                     begin
    for each epoch (≤ max_iter):              epoch_begin            (iteration 1)
        epoch_begin                           for each iteration scipy completes:
        shuffle, then one step per batch          epoch_end           (may stop)
        (∇J clipped first with clip_norm)
        epoch_end          (may stop)             epoch_begin         (the next one)
    end                                       end

The first step of a fit runs through :meth:`Network.checked
<skfnn._network.Network.checked>`, so that a user object that breaks its
contract is caught there; every later step runs the plain network. Ctrl-C
(KeyboardInterrupt) ends training with scikit-learn's warning and keeps the
model as it is, for both loops. The loops know nothing of estimators: what
the hooks record, and where, is theirs to decide.

The data and θ may be arrays of any namespace the network runs in
(``net.xp``); the random draws (the order of the samples each epoch, the
validation split) are numpy's, on the host, and the indices they give are
moved to the device. L-BFGS runs in scipy on the host: θ and ∇J cross over at
each evaluation.
"""

import contextvars
import itertools
from dataclasses import dataclass, field

import numpy as np
import scipy.optimize
from sklearn.model_selection import train_test_split
from sklearn.utils import gen_batches
from sklearn.utils import shuffle as _shuffle

from . import _array_api, _engine
from ._array_api import astype, on_device, rows, to_numpy
from ._hooks import call
from ._warn import warn_user

__all__ = ["Epoch", "PROPAGATE_INTERRUPT", "Run", "evaluate", "batch_loss", "batch_size",
           "clip_gradient", "fit_lbfgs", "fit_stochastic", "split_validation"]

#: True while several models are fitted one after another as one call (an ensemble's
#: members that cannot share a stack, skfnn/_stack.py): Ctrl-C then ends the whole
#: call, raised, instead of ending only the model in training and going on to the next.
PROPAGATE_INTERRUPT = contextvars.ContextVar("skfnn_propagate_interrupt", default=False)


@dataclass
class Epoch:
    """What one epoch (or L-BFGS iteration) recorded: the loop's numbers, then the hooks'.

    The loop makes a new record after each epoch; the hooks read it and add to
    it in their order (a validation score, the verdict, the optimizer's
    decision), so that a later hook reads what an earlier one recorded.

    Attributes
    ----------
    loss : float
        J of the epoch (the mean of its batch losses) or of the L-BFGS iterate.
    batch_losses : list of float
        J of each minibatch (empty for L-BFGS).
    validation_loss, score : float or None
        The validation loss and score (:class:`~skfnn._hooks.ValidationMonitor`).
    improved : bool or None
        The verdict of the stopping rule, and ``judged_by`` what it judged
        ("Training loss" or "Validation score").
    plateau : str or None
        The optimizer's decision after too many epochs without improvement.
    """

    loss: float
    batch_losses: list = field(default_factory=list)
    validation_loss: float = None
    score: float = None
    improved: bool = None
    judged_by: str = None
    plateau: str = None


class Run:
    """What the hooks of one fit share: the estimator, the network, θ, the data and progress.

    Parameters
    ----------
    estimator : BaseFNN
        The estimator being fitted (where the hooks keep the fitted attributes).
    net : Network
    theta : ndarray
        The packed parameters, updated in place.
    X, Y, sample_weight
        The training data (Y 2-D; bool for a classifier, cast per batch).
    max_iter : int
        The most epochs (iterations) this fit may run.
    samples_per_epoch : int
        What an epoch adds to ``t_`` (the training rows; 0 for L-BFGS).
    optimizer : SGD, Adam, AdamW or RMSprop, optional
    clip_norm : float or None, default=None
        The largest global L2 norm of ∇J a step may take (:func:`clip_gradient`).

    Attributes
    ----------
    epoch : Epoch or None
        The record of the epoch that just ended.
    reference_loss : float
        J of the fit's first step, before it: the divergence guard's yardstick.
    reference_gradient : float or None
        max |∂J/∂θ| at L-BFGS's first evaluation (None for the stochastic solvers).
    stop : str or None
        Why training ends, once a hook has decided: "plateau", "callback",
        "diverged", "interrupted".
    result : scipy.optimize.OptimizeResult or None
        L-BFGS's result.
    """

    def __init__(self, estimator, net, theta, X, Y, sample_weight, *, max_iter,
                 samples_per_epoch, optimizer=None, clip_norm=None):
        self.estimator, self.net, self.theta = estimator, net, theta
        self.clip_norm = clip_norm
        self.X, self.Y, self.sample_weight = X, Y, sample_weight
        self.max_iter, self.samples_per_epoch = max_iter, samples_per_epoch
        self.optimizer = optimizer
        self.epoch = self.reference_loss = self.reference_gradient = None
        self.stop = self.result = None


def _first_checked(net):
    """The networks of successive steps: the checked twin first, then the network itself."""
    return itertools.chain([net.checked()], itertools.repeat(net))


def fit_stochastic(run, hooks, *, batch_size, shuffle, random_state):
    """Epochs of minibatch steps of ``run.optimizer`` until a hook stops or max_iter.

    Parameters
    ----------
    run : Run
    hooks : list of Hook
    batch_size : int
    shuffle : bool
        Draw a new order of the samples from ``random_state`` before each epoch.
    random_state : RandomState
    """
    theta = run.theta
    grad = run.net.xp.empty_like(theta)
    workspace = _engine.Workspace(run.net, batch_size, theta.dtype, theta, grad)
    nets = _first_checked(run.net)
    sample_idx = np.arange(run.X.shape[0])
    call(hooks, "begin", run)
    try:
        for _ in range(run.max_iter):
            call(hooks, "epoch_begin", run)
            if shuffle:
                sample_idx = _shuffle(sample_idx, random_state=random_state)
            run.epoch = _epoch(run, sample_idx if shuffle else None, grad, workspace, nets,
                               random_state)
            call(hooks, "epoch_end", run)
            if run.stop:
                break
    except KeyboardInterrupt:
        if PROPAGATE_INTERRUPT.get():
            raise
        warn_user("Training interrupted by user.")  # keep the model, as scikit-learn
        run.stop = "interrupted"
    call(hooks, "end", run)


def _epoch(run, sample_idx, grad, workspace, nets, random_state):
    """One pass of minibatch steps over the samples; return its :class:`Epoch` record.

    ``sample_idx`` is the shuffled order (None: in order, and batches are
    slices of X, not copies), moved to X's device once per epoch. The
    workspace was made for the batch size; a smaller last batch takes its
    rows. With dropout, each batch's masks are drawn from ``random_state``
    before its step (after the epoch's shuffle).
    """
    data, theta, n_samples = (run.X, run.Y, run.sample_weight), run.theta, run.X.shape[0]
    order = None if sample_idx is None else run.net.on_device(sample_idx)
    batch_losses = []
    accumulated_loss = 0.0
    for batch in gen_batches(n_samples, workspace.n_samples):
        n_batch = batch.stop - batch.start
        idx = batch if order is None else order[batch]
        J = batch_loss(run.net, next(nets), theta, data, (idx, n_batch), grad, workspace,
                       random_state=random_state)
        if run.reference_loss is None:
            run.reference_loss = J
        batch_losses.append(J)
        accumulated_loss += J * n_batch
        if run.clip_norm is not None:
            clip_gradient(grad, run.clip_norm)
        run.optimizer.step(theta, grad, workspace.scratch)
    return Epoch(accumulated_loss / n_samples, batch_losses)


def batch_loss(net, used, theta, data, batch, grad, workspace, *, random_state):
    """J of one minibatch at θ, ∇J into ``grad``, through ``used`` (:func:`evaluate`).

    ``data`` is (X, Y, s), ``batch`` the minibatch's ``(rows, n)``: its rows are
    taken from the data, the workspace's first n rows serve it, and with
    dropout its masks are drawn from ``random_state``.
    """
    (X, Y, sample_weight), (idx, n) = data, batch
    sw = None if sample_weight is None else rows(sample_weight, idx)
    Y_batch = astype(rows(Y, idx), theta.dtype)
    ws = workspace.rows(n)
    masks = net.draw_masks(random_state, n, theta.dtype, ws) if net.has_dropout else None
    J, _ = evaluate(net, used, theta, (rows(X, idx), Y_batch, sw), grad, ws, masks)
    return J


def clip_gradient(grad, max_norm):
    """Rescale ∇J in place to a global L2 norm of at most ``max_norm``.

    As ``torch.nn.utils.clip_grad_norm_``: c = max_norm / (‖∇J‖ + 1e-6), and
    ∇J ← c ∇J when c < 1. ∇J is the whole gradient, the L2 term included.
    """
    coef = max_norm / (float(_engine.squared_norm([grad])) ** 0.5 + 1e-6)
    if coef < 1:
        grad *= coef


def fit_lbfgs(run, hooks, *, max_fun, tol, objective=None):
    """scipy's L-BFGS-B on θ, with ``run.max_iter`` iterations and ``max_fun`` evaluations.

    scipy works in float64 on the host; the objective is evaluated in θ's own
    dtype, namespace and device (θ and ∇J cross over at each evaluation, as
    scikit-learn's LogisticRegression does under ``array_api_dispatch``). A
    hook's stop ends the minimisation after that iteration (scipy's
    ``StopIteration`` protocol); Ctrl-C keeps the last completed iterate.
    ``objective(x) -> (J, ∇J in float64)``, which writes x into θ, replaces
    the in-memory one over ``run.X`` (skfnn/_dask.py sums it on a cluster).
    """
    theta, net = run.theta, run.net
    evaluate = objective or _in_memory_objective(run)
    iterate = to_numpy(theta).astype(np.float64)  # the last completed iterate

    def fun(x):
        J, g = evaluate(x)
        if run.reference_loss is None:
            run.reference_loss, run.reference_gradient = J, float(np.max(np.abs(g)))
        return J, g

    def end_of_iteration(intermediate_result):
        nonlocal iterate
        iterate = intermediate_result.x.copy()
        # What the hooks see (scipy evaluates elsewhere meanwhile).
        theta[...] = net.on_device(iterate, theta.dtype)
        run.epoch = Epoch(float(intermediate_result.fun))
        call(hooks, "epoch_end", run)
        if run.stop:
            raise StopIteration
        call(hooks, "epoch_begin", run)

    call(hooks, "begin", run)
    call(hooks, "epoch_begin", run)
    try:
        run.result = scipy.optimize.minimize(
            fun, iterate, method="L-BFGS-B", jac=True, callback=end_of_iteration,
            options={"maxfun": max_fun, "maxiter": run.max_iter, "gtol": tol},
        )
        theta[...] = net.on_device(run.result.x, theta.dtype)
        if not np.isfinite(run.result.fun):
            # After a failed line search scipy returns the last iterate with the loss of
            # its last (non-finite) trial: J of the weights kept, for loss_.
            run.result.fun = evaluate(run.result.x)[0]
    except KeyboardInterrupt:
        if PROPAGATE_INTERRUPT.get():
            raise
        warn_user("Training interrupted by user.")  # keep the model, as scikit-learn
        theta[...] = net.on_device(iterate, theta.dtype)
        run.stop = "interrupted"
    call(hooks, "end", run)


def _in_memory_objective(run):
    """``fun(x) -> (J, ∇J)`` over the run's data: θ = x, evaluated in θ's dtype, namespace
    and device (x and ∇J are scipy's float64 numpy vectors on the host)."""
    theta, net = run.theta, run.net
    grad = net.xp.empty_like(theta)
    workspace = _engine.Workspace(net, run.X.shape[0], theta.dtype, theta, grad)
    X, Y, sample_weight = run.X, astype(run.Y, theta.dtype), run.sample_weight
    nets = _first_checked(net)

    def fun(x):
        theta[...] = net.on_device(x, theta.dtype)
        J, g = evaluate(net, next(nets), theta, (X, Y, sample_weight), grad, workspace)
        return J, to_numpy(g).astype(np.float64)
    return fun


def evaluate(net, used, theta, batch, grad, workspace, masks=None):
    """(J, ∇J) of one batch ``(X, Y, s)`` at θ, through ``used``: ``net`` or its checked twin.

    A ValueError from a later step is raised again naming the user object
    behind it (:meth:`Network.blame <skfnn._network.Network.blame>`); the
    first step runs checked (``used`` is the twin), and its errors name the
    object themselves.
    """
    X, Y, sample_weight = batch
    try:
        return _engine.loss_and_gradient(used, theta, X, Y, sample_weight, grad, workspace,
                                         masks=masks)
    except ValueError as error:
        if used is not net:
            raise
        net.blame(error, lambda twin: _engine.loss_and_gradient(
            twin, theta, X, Y, sample_weight, grad, workspace, masks=masks))


def batch_size(spec, n_samples, warn=True):
    """The minibatch size: "auto" is min(200, n); a number is clipped to [1, n] (warned)."""
    if spec == "auto":
        return min(200, n_samples)
    if spec > n_samples and warn:
        warn_user(
            "Got `batch_size` less than 1 or larger than sample size. It is going "
            "to be clipped"
        )
    return int(np.clip(spec, 1, n_samples))


def split_validation(X, Y, sample_weight, *, fraction, stratify, random_state):
    """Hold out ``fraction`` of the rows for early stopping, as scikit-learn's MLP.

    Returns ``(X_train, Y_train, sw_train), (X_val, Y_val, sw_val)``; the
    split is stratified by Y when ``stratify`` is True. The rows are drawn on
    the host (scikit-learn's ``train_test_split`` of the row numbers, the same
    draws as of the arrays themselves) and taken from the arrays where they live.
    """
    advice = ("Give more samples, another validation_fraction, or a validation set of "
              "your own (fit(..., X_val=, y_val=)).")
    try:
        parts = train_test_split(np.arange(X.shape[0]), random_state=random_state,
                                 test_size=fraction,
                                 stratify=to_numpy(Y) if stratify else None)
    except ValueError as exc:  # scikit-learn's words name its own parameters
        raise ValueError(
            f"early_stopping=True could not hold out validation_fraction={fraction} of the "
            f"{X.shape[0]} samples{' stratified by class' if stratify else ''}: {exc} "
            f"{advice}"
        ) from exc
    train, val = (on_device(part, X) for part in parts)
    X_train, X_val, Y_train, Y_val = rows(X, train), rows(X, val), rows(Y, train), rows(Y, val)
    sw_train, sw_val = (None, None) if sample_weight is None else (
        rows(sample_weight, train), rows(sample_weight, val))
    if X_val.shape[0] < 2:
        raise ValueError(
            "The validation set is too small. Increase 'validation_fraction' or "
            "the size of your dataset."
        )
    for part, weights in (("training", sw_train), ("validation", sw_val)):
        if weights is not None and not _array_api.sum(weights) > 0:
            raise ValueError(
                f"early_stopping=True held out rows whose sample_weight leaves the {part} "
                f"part with a total weight of 0. {advice}"
            )
    return (X_train, Y_train, sw_train), (X_val, Y_val, sw_val)

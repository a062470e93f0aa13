"""The training loops: epochs of minibatch steps, and L-BFGS.

Both act on the packed parameter vector θ in place through the engine's one
(J, ∇J) function, and run the hooks of :mod:`skfnn._hooks` at fixed points::

    stochastic (sgd, adam)                    L-BFGS
    ----------------------                    ------
    begin                                     begin
    for each epoch (≤ max_iter):              epoch_begin            (iteration 1)
        epoch_begin                           for each iteration scipy completes:
        shuffle, then one step per batch          epoch_end           (may stop)
        epoch_end          (may stop)             epoch_begin         (the next one)
    end                                       end

The first step of a fit runs through :meth:`Network.checked
<skfnn._network.Network.checked>`, so that a user object that breaks its
contract is caught there; every later step runs the plain network. Ctrl-C
(KeyboardInterrupt) ends training with scikit-learn's warning and keeps the
model as it is, for both loops. The loops know nothing of estimators: what
the hooks record, and where, is theirs to decide.
"""

import itertools
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.optimize
from sklearn.model_selection import train_test_split
from sklearn.utils import gen_batches, shuffle as _shuffle

from . import _engine
from ._hooks import call

__all__ = ["Run", "ValidationSet", "batch_size", "fit_lbfgs", "fit_stochastic",
           "split_validation"]


@dataclass(frozen=True)
class ValidationSet:
    """The held-out data a fit scores after each epoch.

    Attributes
    ----------
    X : ndarray or sparse matrix
        Validated, in the training data's dtype.
    Y : ndarray
        The targets encoded as the training Y (2-D; bool for a classifier).
    y : array-like
        The targets as scorers take them (a classifier's labels).
    sample_weight : ndarray or None
    X_user : array-like
        X as the user passed it (a DataFrame keeps its column names for scorers).
    """

    X: object
    Y: object
    y: object
    sample_weight: object
    X_user: object


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
    optimizer : SGD or Adam, optional

    Attributes
    ----------
    epoch_loss : float
        J of the last epoch (the mean of its batch losses) or L-BFGS iterate.
    reference_loss : float
        J of the fit's first step, before it: the divergence guard's yardstick.
    batch_losses : list of float
        J of each minibatch of the last epoch (empty for L-BFGS).
    stop : str or None
        Why training ends, once a hook has decided: "plateau", "callback",
        "diverged", "interrupted".
    score, improved, judged_by, plateau
        This epoch's validation score, verdict (and what it judged: "Training
        loss" or "Validation score") and optimizer decision, for the hooks that
        come after the ones that set them.
    result : scipy.optimize.OptimizeResult or None
        L-BFGS's result.
    """

    def __init__(self, estimator, net, theta, X, Y, sample_weight, *, max_iter,
                 samples_per_epoch, optimizer=None):
        self.estimator, self.net, self.theta = estimator, net, theta
        self.X, self.Y, self.sample_weight = X, Y, sample_weight
        self.max_iter, self.samples_per_epoch = max_iter, samples_per_epoch
        self.optimizer = optimizer
        self.epoch_loss = self.reference_loss = None
        self.batch_losses = []
        self.stop = self.score = self.improved = self.plateau = self.result = None
        self.judged_by = None


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
    grad = np.empty_like(theta)
    workspace = _engine.Workspace(run.net, batch_size, theta.dtype, theta, grad)
    nets = _first_checked(run.net)
    sample_idx = np.arange(run.X.shape[0])
    call(hooks, "begin", run)
    try:
        for _ in range(run.max_iter):
            call(hooks, "epoch_begin", run)
            if shuffle:
                sample_idx = _shuffle(sample_idx, random_state=random_state)
            run.epoch_loss = _epoch(run, sample_idx if shuffle else None, grad, workspace, nets,
                                    random_state)
            call(hooks, "epoch_end", run)
            if run.stop:
                break
    except KeyboardInterrupt:
        warnings.warn("Training interrupted by user.")  # keep the model, as scikit-learn
        run.stop = "interrupted"
    call(hooks, "end", run)


def _epoch(run, sample_idx, grad, workspace, nets, random_state):
    """One pass of minibatch steps over the samples; return the mean batch loss.

    ``sample_idx`` is the shuffled order (None: in order, and batches are
    slices of X, not copies). The workspace was made for the batch size; a
    smaller last batch takes its rows. With dropout, each batch's masks are
    drawn from ``random_state`` before its step (after the epoch's shuffle).
    """
    X, Y, sample_weight, theta = run.X, run.Y, run.sample_weight, run.theta
    n_samples, dropout = X.shape[0], run.net.has_dropout
    batch_losses = run.batch_losses = []
    accumulated_loss = 0.0
    for batch in gen_batches(n_samples, workspace.n_samples):
        n_batch = batch.stop - batch.start
        idx = batch if sample_idx is None else sample_idx[batch]
        sw = None if sample_weight is None else sample_weight[idx]
        Y_batch = Y[idx].astype(theta.dtype, copy=False)
        ws = workspace.rows(n_batch)
        masks = run.net.draw_masks(random_state, n_batch, theta.dtype, ws) if dropout else None
        J, _ = _engine.loss_and_gradient(next(nets), theta, X[idx], Y_batch, sw, grad, ws,
                                         masks)
        if run.reference_loss is None:
            run.reference_loss = J
        batch_losses.append(J)
        accumulated_loss += J * n_batch
        run.optimizer.step(theta, grad, workspace.scratch)
    return accumulated_loss / n_samples


def fit_lbfgs(run, hooks, *, max_fun, tol, objective=None):
    """scipy's L-BFGS-B on θ, with ``run.max_iter`` iterations and ``max_fun`` evaluations.

    scipy works in float64; the objective is evaluated in θ's own dtype. A
    hook's stop ends the minimisation after that iteration (scipy's
    ``StopIteration`` protocol); Ctrl-C keeps the last completed iterate.
    ``objective(x) -> (J, ∇J in float64)``, which writes x into θ, replaces
    the in-memory one over ``run.X`` (skfnn/_dask.py sums it on a cluster).
    """
    theta = run.theta
    evaluate = objective or _in_memory_objective(run)
    iterate = theta.astype(np.float64)  # the last completed iterate

    def fun(x):
        J, g = evaluate(x)
        if run.reference_loss is None:
            run.reference_loss = J
        return J, g

    def end_of_iteration(intermediate_result):
        nonlocal iterate
        iterate = intermediate_result.x.copy()
        theta[...] = iterate  # what the hooks see (scipy evaluates elsewhere meanwhile)
        run.epoch_loss = float(intermediate_result.fun)
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
        theta[...] = run.result.x
    except KeyboardInterrupt:
        warnings.warn("Training interrupted by user.")  # keep the model, as scikit-learn
        theta[...] = iterate
        run.stop = "interrupted"
    call(hooks, "end", run)


def _in_memory_objective(run):
    """``fun(x) -> (J, ∇J)`` over the run's data: θ = x, evaluated in θ's dtype."""
    theta = run.theta
    grad = np.empty_like(theta)
    workspace = _engine.Workspace(run.net, run.X.shape[0], theta.dtype, theta, grad)
    X, Y, sample_weight = run.X, run.Y.astype(theta.dtype, copy=False), run.sample_weight
    nets = _first_checked(run.net)

    def fun(x):
        theta[...] = x
        J, g = _engine.loss_and_gradient(next(nets), theta, X, Y, sample_weight, grad,
                                         workspace)
        return J, g.astype(np.float64)
    return fun


def batch_size(spec, n_samples, warn=True):
    """The minibatch size: "auto" is min(200, n); a number is clipped to [1, n] (warned)."""
    if spec == "auto":
        return min(200, n_samples)
    if spec > n_samples and warn:
        warnings.warn(
            "Got `batch_size` less than 1 or larger than sample size. It is going "
            "to be clipped"
        )
    return int(np.clip(spec, 1, n_samples))


def split_validation(X, Y, sample_weight, *, fraction, stratify, random_state):
    """Hold out ``fraction`` of the rows for early stopping, as scikit-learn's MLP.

    Returns ``(X_train, Y_train, sw_train), (X_val, Y_val, sw_val)``; the
    split is stratified by Y when ``stratify`` is True.
    """
    arrays = (X, Y) if sample_weight is None else (X, Y, sample_weight)
    advice = ("Give more samples, another validation_fraction, or a validation set of "
              "your own (fit(..., X_val=, y_val=)).")
    try:
        parts = train_test_split(*arrays, random_state=random_state, test_size=fraction,
                                 stratify=Y if stratify else None)
    except ValueError as exc:  # scikit-learn's words name its own parameters
        raise ValueError(
            f"early_stopping=True could not hold out validation_fraction={fraction} of the "
            f"{X.shape[0]} samples{' stratified by class' if stratify else ''}: {exc} "
            f"{advice}"
        ) from exc
    X_train, X_val, Y_train, Y_val = parts[:4]
    sw_train, sw_val = parts[4:] if sample_weight is not None else (None, None)
    if X_val.shape[0] < 2:
        raise ValueError(
            "The validation set is too small. Increase 'validation_fraction' or "
            "the size of your dataset."
        )
    for part, weights in (("training", sw_train), ("validation", sw_val)):
        if weights is not None and not weights.sum() > 0:
            raise ValueError(
                f"early_stopping=True held out rows whose sample_weight leaves the {part} "
                f"part with a total weight of 0. {advice}"
            )
    return (X_train, Y_train, sw_train), (X_val, Y_val, sw_val)

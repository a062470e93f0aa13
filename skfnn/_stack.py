"""The model axis: K networks of one architecture trained as one stack.

K estimators that differ only in ``random_state``, ``alpha`` and
``learning_rate_init`` (:data:`STACKABLE`), fitted on the same data, keep their
parameters as the rows of one (K, P) array Θ. Each minibatch step is then one
pass of the engine over the stack::

    X_k = X[idx_k]                      (K, b, n_0)   each model's own minibatch
    Z^l = Ã^{l-1} W^l + b^l             (K, b, n_l)   np.matmul over the stack
    Δ^l, ∂J/∂W^l, ∂J/∂b^l               as the engine's, over the stack
    Θ ← optimizer step                  (K, P)        per-model rates as (K, 1) columns

and the fixed cost of a step, ~45 µs of numpy dispatch for a small network,
is shared by K models. Each model keeps everything that makes it itself: its
random state (its initial draws, its shuffles, its dropout masks, its
validation split), its α, its learning rate and schedule, its hooks and its
stopping rule. A model whose training stops (early stopping,
``n_iter_no_change``, max_iter) leaves the stack and the others go on.

The stacked products are numpy's ``matmul`` over the model axis, which calls
BLAS's gemm once per model with the same operands as the model's own fit; the
elementwise operations give each element the same operations; the sums that
are reductions (J, Σ s, ‖W‖², clipping's norm) are taken per model, on the
same contiguous rows as the model's own fit. So a stacked model is its own fit
bit for bit (tests/test_stack.py), in float64 and float32.

Stacked: numpy dense data, a stochastic solver, an integer ``random_state``
(two models drawing from one generator would interleave their draws), no
callbacks, fresh weights. Anything else (L-BFGS, sparse or array-API data,
Dask, warm starts) is fitted model after model, as its own ``fit`` would.
"""

import contextlib
import functools
import numbers
import types

import numpy as np
from sklearn import config_context
from sklearn.utils import gen_batches
from sklearn.utils import shuffle as _shuffle

from . import _array_api, _dask, _engine, _fitting, _model, _training
from ._hooks import call
from ._problem import STOCHASTIC_SOLVERS
from ._threads import blas_threads_for
from ._warn import warn_user
from .losses import Loss

__all__ = ["STACKABLE", "Stack", "fit_members", "loss_and_gradients"]

#: The parameters in which stacked members may differ.
STACKABLE = frozenset({"random_state", "alpha", "learning_rate_init"})

#: The largest stack (K P elements) that an optimizer updates in one pass over all
#: its rows; a larger one is updated row by row, each row block by block as its own
#: fit (measured for Adam, one thread: one pass is 1.2–3× quicker up to 2.4·10⁵
#: elements, 1.05–1.2× slower from 8·10⁵, where the rows no longer stay in cache).
WHOLE_STACK = 2**18

#: The most elements a stack's working set may hold (a batch's activations and four
#: parameter-sized vectors per member): 2¹⁹ float64, 4 MiB. Larger groups train as
#: several stacks of equal size. Stacking shares the fixed cost of a step; once a
#: member's own products and vectors fill the caches, a larger stack only evicts
#: them (speed.py's "wide" workload: 16 stacked members 0.84× the speed of 16
#: separate fits, 4 members 0.96×; "small": 16 stacked 0.94×, two stacks of 8 1.04×).
STACK_ELEMENTS = 2**19


def fit_members(estimators, X, y, sample_weight=None):
    """Fit each estimator on (X, y, sample_weight), as ``est.fit`` would; return them.

    Estimators that may be stacked (:func:`groups`) train in stacks; the rest
    one after another. On any error every estimator is put back as it was.
    Ctrl-C keeps the members of a stack as trained so far, as each one's own
    fit would, when that stack is the whole call; when the call trains in
    several parts (stacks, or members one after another), it ends the whole
    call instead (KeyboardInterrupt, every estimator put back) rather than only
    the part in training.
    """
    estimators = list(estimators)
    with contextlib.ExitStack() as undo:
        for est in estimators:
            undo.enter_context(_model.rollback(est))
        parts = [part for group in groups(estimators)
                 for part in _parts(group, X, y, sample_weight)]
        if len(parts) > 1:
            token = _training.PROPAGATE_INTERRUPT.set(True)
            undo.callback(_training.PROPAGATE_INTERRUPT.reset, token)
        for part in parts:
            part()
    return estimators


def _parts(group, X, y, sample_weight):
    """The calls that train a group: one per stack, or one per member's own fit."""
    if len(group) == 1 or not _stackable(group[0]) or _dask.is_dask_collection(X):
        return [functools.partial(est.fit, X, y, sample_weight) for est in group]
    with config_context(skip_parameter_validation=True):  # as each member's own fit
        members = [_fitting.prepared(est, X, y, sample_weight) for est in group]
    numpy_data = all(isinstance(run.X, np.ndarray) for run, *_ in members)
    return [functools.partial(train, part)
            for part in (_stacks(members) if numpy_data else [[m] for m in members])]


def groups(estimators):
    """The estimators in groups that may train as one stack (in their order)."""
    found = []
    for est in estimators:
        group = next((g for g in found if _stackable(g[0]) and _same_but_stackable(g[0], est)),
                     None) if _stackable(est) else None
        if group is None:
            found.append([est])
        else:
            group.append(est)
    return found


def _stackable(est):
    """Whether ``est.fit`` may run in a stack: see the module's docstring."""
    return (est.solver in STOCHASTIC_SOLVERS
            and isinstance(est.random_state, numbers.Integral)
            and not getattr(est, "_skl_callbacks", None)
            and not (est.warm_start and hasattr(est, "coefs_")))


def _same_but_stackable(a, b):
    """Whether two estimators' parameters agree outside :data:`STACKABLE`."""
    if type(a) is not type(b):
        return False
    pa, pb = a.get_params(deep=False), b.get_params(deep=False)
    return all(_equal(pa[name], pb[name]) for name in pa if name not in STACKABLE)


def _equal(u, v):
    if u is v:
        return True
    try:
        return bool(np.array_equal(u, v)) if _array_api.is_array(u) else bool(u == v)
    except Exception:  # incomparable objects are different
        return False


# ----------------------------------------------------------------------
# Training a stack
# ----------------------------------------------------------------------
def train(members):
    """Train prepared members ``(run, hooks, batch_size, random_state)`` as one stack
    (a stack of one: the model's own loop)."""
    run, hooks, batch_size, random_state = members[0]
    with config_context(skip_parameter_validation=True), \
            blas_threads_for(batch_size, run.net.layer_units):
        if len(members) == 1:
            _training.fit_stochastic(run, hooks, batch_size=batch_size,
                                     shuffle=run.estimator.shuffle, random_state=random_state)
        else:
            fit_stochastic(members)


def _stacks(members):
    """The members in stacks of equal size, each within :data:`STACK_ELEMENTS`."""
    run, _, batch_size, _ = members[0]
    per_member = batch_size * sum(run.net.layer_units[1:]) + 4 * run.net.layout.size
    n_stacks = -(-len(members) // max(1, STACK_ELEMENTS // per_member))
    return [[members[i] for i in part]
            for part in np.array_split(np.arange(len(members)), n_stacks)]


def fit_stochastic(members):
    """:func:`skfnn._training.fit_stochastic` for K members, each with its own hooks.

    Each member's hooks see exactly what they would in its own fit, in the
    same order; a member whose hooks stop it leaves the stack.
    """
    members = [_Member(*m) for m in members]
    batch_size, runs = members[0].batch_size, [m.run for m in members]
    for m in members:
        call(m.hooks, "begin", m.run)
    active, checked = members, True
    stack = Stack(runs, batch_size)
    try:
        for _ in range(runs[0].max_iter):
            shuffle = _begin_epoch(active)
            stack.take()  # the hooks may have changed a member's θ between epochs
            records = _epoch(stack, [m.order for m in active] if shuffle else None,
                             [m.random_state for m in active], checked)
            checked = False
            stack.put_back(state=False)
            for m, record in zip(active, records, strict=True):
                m.run.epoch = record
                call(m.hooks, "epoch_end", m.run)
            stack, active = _going_on(stack, active, batch_size)
            if not active:
                break
    except KeyboardInterrupt:
        if _training.PROPAGATE_INTERRUPT.get():
            raise
        warn_user("Training interrupted by user.")  # keep the models, as scikit-learn
        for m in active:
            m.run.stop = "interrupted"
    if stack is not None:
        stack.put_back()
    for m in members:
        call(m.hooks, "end", m.run)


class _Member:
    """One member of a stacked fit: its run, hooks, batch size, random state, and order."""

    def __init__(self, run, hooks, batch_size, random_state):
        self.run, self.hooks, self.batch_size = run, hooks, batch_size
        self.random_state = random_state
        self.order = np.arange(run.X.shape[0])


def _going_on(stack, active, batch_size):
    """The members that go on and their stack (None if none does); those that stopped
    leave with their θ and optimizer state put back."""
    if not any(m.run.stop for m in active):
        return stack, active
    stack.put_back()
    active = [m for m in active if not m.run.stop]
    return (Stack([m.run for m in active], batch_size) if active else None), active


def _begin_epoch(members):
    """Each member's epoch_begin hooks, then its shuffle; return whether they shuffle."""
    shuffle = members[0].run.estimator.shuffle
    for m in members:
        call(m.hooks, "epoch_begin", m.run)
        if shuffle:
            m.order = _shuffle(m.order, random_state=m.random_state)
    return shuffle


class Stack:
    """The active members' θ, ∇J and optimizer state as rows of (K, P) arrays.

    Made when the stack's members change; each epoch takes the members' θ in
    (the hooks read and may change them between epochs) and puts them back
    after it: 2 K P copies an epoch, against the epoch's steps. The optimizer
    state goes back when a member leaves and at the end.
    """

    def __init__(self, runs, batch_size):
        self.runs = runs
        self.nets = [run.net for run in runs]
        self.Theta = np.stack([run.theta for run in runs])
        self.Grad = np.empty_like(self.Theta)
        optimizers = [run.optimizer for run in runs]
        self.optimizers, self.kind = optimizers, optimizers[0]
        self.state = [np.stack([getattr(o, name) for o in optimizers])
                      for name in self.kind.state]
        self.workspace = Workspace(self.nets[0], len(runs), batch_size, self.Theta, self.Grad,
                                   [net.alpha for net in self.nets])
        self.clip_norm = runs[0].clip_norm

    def step(self):
        """The optimizers' step on every row, each with its own coefficients."""
        Theta, Grad, scratch = self.Theta, self.Grad, self.workspace.scratch
        coefficients = [o.coefficients() for o in self.optimizers]
        if self.clip_norm is not None:
            for g in Grad:
                _training.clip_gradient(g, self.clip_norm)
        if self.workspace.whole:  # one pass over the stack, each row's scalars a column
            columns = [np.array(c, dtype=Theta.dtype)[:, None]
                       for c in zip(*coefficients, strict=True)]
            self.kind.update(Theta, Grad, scratch, self.state, columns)
            return
        for k, row in enumerate(coefficients):
            self.kind.update(Theta[k], Grad[k], scratch[0], [S[k] for S in self.state], row)

    def take(self):
        """Copy each member's θ into its row."""
        for k, run in enumerate(self.runs):
            self.Theta[k] = run.theta

    def put_back(self, state=True):
        """Write each row back into its member's θ (and optimizer state)."""
        for k, run in enumerate(self.runs):
            run.theta[...] = self.Theta[k]
            if state:
                for name, rows in zip(self.kind.state, self.state, strict=True):
                    getattr(run.optimizer, name)[...] = rows[k]


class Workspace(_engine.Workspace):
    """The engine's scratch arrays for a stack: (K, b, n_l), contiguous for any b' ≤ b.

    The engine's buffers (the same plan: Z^l, A^l over Z^l where σ' reads only
    a, Δ^l, the dropout masks), each flat storage of K b n_l elements; a batch
    of b' rows takes its first K b' n_l as (K, b', n_l), so that the
    activations see each model's rows as one contiguous matrix
    (:func:`skfnn._engine.rowwise`). ``alphas``: the models' α.
    """

    def __init__(self, net, K, n_samples, Theta, Grad, alphas):
        self.K, self.units = K, net.layout.layer_units
        super().__init__(net, n_samples, Theta.dtype, Theta, Grad)
        self._storage = (self.Zs, self.As, self.Deltas, self.Masks, self.Drops)
        self.W_vectors = [net.layout.weight_vectors(theta) for theta in Theta]  # per row
        #: Whether the optimizer updates the stack in one pass (else row by row).
        self.whole = Theta.size <= WHOLE_STACK
        self.scratch = np.empty(Theta.shape if self.whole
                                else (1, min(Theta.shape[1], _engine.BLOCK)), Theta.dtype)
        #: Each row's α over its W entries, 0 over its biases: the mask of the stack's
        #: α W term (None if an α is 0).
        self.alpha_mask = None
        if all(alphas):
            self.alpha_mask = np.zeros_like(Theta)
            self.alpha_mask[:, net.layout.coefs] = np.array(alphas)[:, None]
        self._views = {}
        self.rows(n_samples)

    def buffer_shape(self, n_samples, n_units):
        return (self.K * n_samples * n_units,)

    def rows(self, n):
        """Point Zs, As, Deltas, Masks, Drops at (K, n, n_l) views; return self."""
        if n not in self._views:
            def view(buffers):
                return [None] + [None if B is None else B[: self.K * n * m].reshape(self.K, n, m)
                                 # strict=False: Δ has no output layer
                                 for B, m in zip(buffers[1:], self.units[1:], strict=False)]
            self._views[n] = tuple(view(buffers) for buffers in self._storage)
        self.Zs, self.As, self.Deltas, self.Masks, self.Drops = self._views[n]
        return self

    def member(self, k):
        """Member k's masks, for :meth:`Network.draw_masks <skfnn._network.Network.draw_masks>`."""
        return types.SimpleNamespace(Masks=[None if M is None else M[k] for M in self.Masks])


def _epoch(stack, orders, random_states, checked):
    """One epoch of the stack's steps; return each member's :class:`Epoch` record.

    ``orders``: each member's shuffled sample order (None: in order).
    ``checked``: the first step of the fit, run through the checked twins.
    """
    runs, ws = stack.runs, stack.workspace
    n_samples, K, dtype = runs[0].X.shape[0], len(runs), stack.Theta.dtype
    one_X = all(run.X is runs[0].X for run in runs)
    order = None if orders is None else np.stack(orders)
    # Each total accumulates as its own fit's does (a float32 J keeps it in float32).
    batch_losses, totals = [[] for _ in runs], [0.0] * K
    for batch in gen_batches(n_samples, ws.n_samples):
        n_batch = batch.stop - batch.start
        idx = (np.broadcast_to(np.arange(batch.start, batch.stop), (K, n_batch))
               if order is None else order[:, batch])
        data = _gather(runs, idx, dtype, one_X)
        ws.rows(n_batch)
        masks = _masks(stack, random_states, n_batch) if stack.nets[0].has_dropout else None
        nets = [net.checked() for net in stack.nets] if checked else stack.nets
        checked = False
        Js = _evaluate(stack, nets, data, masks)
        for k, (run, J) in enumerate(zip(runs, Js, strict=True)):
            if run.reference_loss is None:
                run.reference_loss = J
            batch_losses[k].append(J)
            totals[k] += J * n_batch
        stack.step()
    return [_training.Epoch(total / n_samples, losses)
            for total, losses in zip(totals, batch_losses, strict=True)]


def _gather(runs, idx, dtype, one_X):
    """Each member's minibatch rows, stacked: X (K, b, n_0), Y (K, b, n_L), s (K, b) or None."""
    if one_X:
        run = runs[0]
        X, Y = np.take(run.X, idx, axis=0), np.take(run.Y, idx, axis=0)
        sw = None if run.sample_weight is None else np.take(run.sample_weight, idx)
    else:  # each member's own training rows (early stopping's split)
        X = np.stack([np.take(r.X, i, axis=0) for r, i in zip(runs, idx, strict=True)])
        Y = np.stack([np.take(r.Y, i, axis=0) for r, i in zip(runs, idx, strict=True)])
        sw = None if runs[0].sample_weight is None else np.stack(
            [np.take(r.sample_weight, i) for r, i in zip(runs, idx, strict=True)])
    return X, Y.astype(dtype, copy=False), sw


def _masks(stack, random_states, n_batch):
    """Each member's dropout masks drawn from its own random state, into the stack's."""
    net, ws, dtype = stack.nets[0], stack.workspace, stack.Theta.dtype
    for k, random_state in enumerate(random_states):
        net.draw_masks(random_state, n_batch, dtype, ws.member(k))
    return [None] + ws.Masks[1:-1] + [None]


def _evaluate(stack, nets, data, masks):
    """J of each member at its θ, ∇J into the stack's rows; user objects blamed as one fit's."""
    try:
        return loss_and_gradients(nets, stack.Theta, data, stack.Grad, stack.workspace, masks)
    except ValueError as error:
        if nets[0] is not stack.nets[0]:
            raise
        stack.nets[0].blame(error, lambda twin: loss_and_gradients(
            [twin] * len(nets), stack.Theta, data, stack.Grad, stack.workspace, masks))


def loss_and_gradients(nets, Theta, data, Grad, workspace, masks=None):
    """J of each model and ∇J into the rows of ``Grad``, for a stack of K models.

    :func:`skfnn._engine.loss_and_gradient` over the model axis: the forward
    and backward passes run once over the stack (``nets[0]``'s activations and
    loss: the models share them); J, Σ s, the α W term and the division by Σ s
    are each model's own (its α, its batch's weights).
    """
    X, Y, sample_weight = data
    net = nets[0]
    Ws, bs, gWs, gbs = workspace.views
    Zs, As, _ = fwd = _engine.forward(net, X, Ws, bs, workspace, masks)
    weights = [X.shape[1]] * len(nets) if sample_weight is None else [
        _engine.total_weight(X[k], s) for k, s in enumerate(sample_weight)]
    Js = _objectives(nets, Y, As[-1], workspace.W_vectors, weights, sample_weight)
    Delta = _engine.output_delta(net, Y, Zs, As, sample_weight)  # Δ^L = s ⊙ δ^L
    _engine.backward(net, Delta, Ws, fwd, (gWs, gbs), workspace, masks)
    _normalize(nets, Theta, Grad, weights, sample_weight is None, workspace)
    return Js


def _objectives(nets, Y, A_L, W_vectors, weights, sample_weight):
    """Each model's J. A loss that is summed from ``pointwise`` values (the built-in
    ones but the log-losses) computes them once over the stack, elementwise, and sums
    each model's rows as its own fit does; any other loss is called once per model."""
    loss = nets[0].loss
    if type(loss).__call__ is Loss.__call__ and type(loss).pointwise is not Loss.pointwise:
        terms = loss._mean_of(_engine.rowwise(loss.pointwise, Y, A_L), sample_weight)
    else:
        sws = [None] * len(nets) if sample_weight is None else sample_weight
        terms = [loss(Y[k], A_L[k], s) for k, s in enumerate(sws)]
    return [_engine.regularized(net, term, w_vectors, weight) for net, term, w_vectors, weight
            in zip(nets, terms, W_vectors, weights, strict=True)]


def _normalize(nets, Theta, Grad, weights, same_weights, workspace):
    """Each row's :func:`skfnn._engine.normalize_gradient`, over the stack where that is
    the same arithmetic: every α nonzero (a model without α adds nothing, not 0 W) and
    Σ s the batch's row count, the same for all."""
    n_W = nets[0].layout.coefs.stop
    if same_weights and workspace.alpha_mask is not None and workspace.whole:
        # α_k W of each row over the contiguous stack; its biases get −0, and
        # x + (−0) is x to the bit, so ∂J/∂b is untouched as in the model's own fit.
        term = np.multiply(Theta, workspace.alpha_mask, out=workspace.scratch)
        term[:, n_W:] = -0.0
        Grad += term
        Grad /= weights[0]
        return
    for k, (net, weight) in enumerate(zip(nets, weights, strict=True)):
        _engine.normalize_gradient(net, Theta[k, :n_W], Grad[k], weight, workspace.scratch[0])

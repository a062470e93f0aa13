"""The engine: forward propagation and δ-backpropagation.

Pure functions, no state, no validation (the estimator validates). Samples are
rows, so the derivation's column-vector equations appear in their batched,
row-major form (see docs/derivation.md):

    Z^l = A^{l-1} W^l + b^l                        forward
    A^l = σ_l(Z^l),  A^0 = X                       forward
    Ã^l = A^l ⊙ M^l  (dropout, training only)      forward, backward
    Δ^L = s ⊙ δ^L(Y, Z^L, A^L)                     output_delta
    Δ^l = (Δ^{l+1} (W^{l+1})ᵀ) ⊙ σ_l'(Z^l)         backward
    ∂J/∂W^l = ((A^{l-1})ᵀ Δ^l + α W^l) / Σ s       backward, loss_and_gradient
    ∂J/∂b^l = Σ_rows Δ^l / Σ s                     backward, loss_and_gradient
    J = Σ_i s_i ℓ_i / Σ s + α/(2 Σ s) Σ_l ‖W^l‖²   objective, penalty

Δ^l is kept unnormalised (a row per sample, weighted by s) and the division
by Σ s is applied once per gradient, as scikit-learn does, so that the same
weights give the same floating-point gradient.

The network itself (layout, activations, loss, α) arrives as one value,
:class:`skfnn._network.Network`; the functions read its fields and keep nothing.

The arrays may be numpy's or those of any array-API library (PyTorch, CuPy,
array-api-strict; see :mod:`skfnn._array_api`): the network's namespace
``net.xp`` is numpy itself for numpy data, and the numpy path keeps its
in-place ``out=`` fast paths, which the workspace's buffers feed; in other
namespaces the workspace holds no buffers and every ``out`` is None.

All parameters live in one contiguous vector θ = [vec W^1, ..., vec W^L, b^1,
..., b^L] (scikit-learn's packing order); :class:`Layout` hands out per-layer
views into θ and into the gradient vector, so an optimizer step is a few vector
operations and L-BFGS sees the same vector.
"""

import copy

import numpy as np

from . import _array_api
from ._array_api import array_namespace, dot, empty, rows, ufuncs

__all__ = [
    "penalty",
    "BLOCK",
    "Layout",
    "Workspace",
    "backward",
    "blocks",
    "forward",
    "init_params",
    "logits",
    "loss_and_gradient",
    "normalize_gradient",
    "objective",
    "objective_at",
    "predict",
    "regularized",
    "rowwise",
    "total_weight",
]


#: Elements of a parameter-sized vector processed at a time by a chain of
#: elementwise operations (optimizer steps, the α W term): done block by block,
#: the intermediates stay in cache instead of streaming the whole of θ through
#: memory once per operation, and scratch space is one block, not one θ.
BLOCK = 2**14


def blocks(*vectors):
    """Yield aligned slices of at most :data:`BLOCK` elements of equal-length vectors.

    numpy only: other namespaces take each operation on the whole vectors at
    once (one kernel each, on a GPU), so they get a single block; so does a
    stack (K, P) of vectors (the model axis), whose size the stack bounds.
    """
    first = vectors[0]
    n = first.shape[0]
    if n <= BLOCK or first.ndim != 1 or not isinstance(first, np.ndarray):
        yield vectors
        return
    for start in range(0, n, BLOCK):
        yield tuple(v[start : start + BLOCK] for v in vectors)


class Layout:
    """Where each W^l and b^l sits in the packed parameter vector θ.

    Parameters
    ----------
    layer_units : sequence of int
        ``[n_features, n_hidden_1, ..., n_outputs]``.
    """

    def __init__(self, layer_units):
        self.layer_units = tuple(int(n) for n in layer_units)
        self.coef_shapes = list(zip(self.layer_units[:-1], self.layer_units[1:], strict=True))
        sizes = [n_in * n_out for n_in, n_out in self.coef_shapes] + list(self.layer_units[1:])
        self.bounds = np.concatenate([[0], np.cumsum(sizes)]).tolist()
        self.size = self.bounds[-1]
        #: The slice of θ holding every W^l (the part that α penalises), and each W^l's.
        self.coefs = slice(0, self.bounds[len(self.coef_shapes)])
        self.coef_slices = [slice(self.bounds[l], self.bounds[l + 1])
                            for l in range(len(self.coef_shapes))]

    @property
    def n_layers(self):
        """L, the number of weight layers."""
        return len(self.coef_shapes)

    def unpack(self, theta):
        """Return the views ``(Ws, bs)`` of θ, with W^l of shape (n_{l-1}, n_l).

        A stack Θ of K models' θ as rows, of shape (K, P) (the model axis,
        :mod:`skfnn._stack`), gives W^l of shape (K, n_{l-1}, n_l) and b^l of
        shape (K, 1, n_l), so that each broadcasts over its model's rows.
        """
        L, e, xp = self.n_layers, self.bounds, array_namespace(theta)
        if theta.ndim == 2:
            K = theta.shape[0]
            return ([xp.reshape(theta[:, e[l] : e[l + 1]], (K, *shape))
                     for l, shape in enumerate(self.coef_shapes)],
                    [theta[:, None, e[L + l] : e[L + l + 1]] for l in range(L)])
        Ws = [xp.reshape(theta[e[l] : e[l + 1]], shape)
              for l, shape in enumerate(self.coef_shapes)]
        bs = [theta[e[L + l] : e[L + l + 1]] for l in range(L)]
        return Ws, bs

    def weight_vectors(self, theta):
        """Each W^l as a flat view of θ, for the layer-by-layer Σ_l ‖W^l‖²."""
        return [theta[s] for s in self.coef_slices]

    def pack(self, Ws, bs, out=None):
        """Copy the layers into one vector θ (into ``out`` if given)."""
        if out is None:
            out = np.empty(self.size, dtype=np.result_type(*Ws, *bs))
        W_views, b_views = self.unpack(out)
        for view, value in zip(W_views + b_views, list(Ws) + list(bs), strict=True):
            view[...] = value
        return out



class Workspace:
    """Scratch arrays Z^l, A^l and Δ^l for one batch size, reused from batch to batch.

    Owned by the caller (the training loop keeps one for its batch size, and
    takes :meth:`rows` of it for a smaller last batch); the engine only writes
    into it. Reusing them spares an allocation, and the page faults that come
    with large ones, for every array of every batch. Given the θ and gradient
    vectors of a training run, it also keeps their per-layer views, so that
    they are not rebuilt for every batch.

    Only a numpy network's workspace has buffers (every one None otherwise,
    and every block of the scratch block None): the array API has no ``out=``,
    and a GPU library's caching allocator makes a fresh array cheap.
    """

    def __init__(self, net, n_samples, dtype, theta=None, grad=None):
        self.n_samples = n_samples
        shapes = [self.buffer_shape(n_samples, n) for n in net.layout.layer_units[1:]]

        def buffer(shape):
            return _array_api.buffer(net.xp, shape, dtype)

        self.Zs = [None] + [buffer(shape) for shape in shapes]
        # A hidden layer whose σ' reads only a computes A^l into Z^l's storage.
        self.As = [None] + [Z if same else buffer(shape) for Z, shape, same
                            in zip(self.Zs[1:], shapes, net.in_place, strict=True)]
        self.Deltas = [None] + [buffer(shape) for shape in shapes[:-1]]
        # Dropout: the masks M^l and the masked activations Ã^l = A^l ⊙ M^l of the
        # hidden layers that drop units (none without dropout).
        rates = [*getattr(net, "dropout", ()), 0.0][: len(shapes)]
        dropping = list(zip(shapes, rates, strict=True))
        self.Masks = [None] + [buffer(shape) if p else None for shape, p in dropping]
        self.Drops = [None] + [buffer(shape) if p else None for shape, p in dropping]
        # One block for the α W term and the optimizer's step.
        self.scratch = _array_api.scratch(net.xp, min(net.layout.size, BLOCK), dtype)
        self.theta, self.grad = theta, grad
        if theta is not None:
            self.views = (*net.layout.unpack(theta), *net.layout.unpack(grad))
            self.W_vectors = net.layout.weight_vectors(theta)

    @staticmethod
    def buffer_shape(n_samples, n_units):
        """The shape of one layer's buffer: a row per sample (a stack's workspace, in
        :mod:`skfnn._stack`, keeps flat storage for all its models' rows)."""
        return (n_samples, n_units)

    def rows(self, n):
        """This workspace for a batch of n ≤ ``n_samples`` rows (views of its arrays)."""
        if n == self.n_samples:
            return self
        part = copy.copy(self)
        part.n_samples = n
        part.Zs, part.As, part.Deltas, part.Masks, part.Drops = (
            [None] + [None if M is None else M[:n] for M in arrays[1:]]
            for arrays in (self.Zs, self.As, self.Deltas, self.Masks, self.Drops))
        return part

    def views_of(self, theta, grad, layout):
        """(Ws, bs, gWs, gbs): the cached views if bound to these vectors, else fresh."""
        if theta is self.theta and grad is self.grad:
            return self.views
        return (*layout.unpack(theta), *layout.unpack(grad))


def _matmul(A, B, out):
    """A @ B, written into ``out`` when there is one (A may be sparse)."""
    if out is None:
        return A @ B
    if isinstance(A, np.ndarray):
        return np.matmul(A, B, out=out)
    out[...] = A @ B
    return out


def rowwise(function, *arrays):
    """``function`` of matrices, applied to stacks (K, n, h) of K models' rows as (K n, h).

    Activations and losses are written for a batch of rows (a softmax sums each
    row); over the model axis each model's rows are rows like any other. The
    stacks are contiguous (the workspace's buffers), so the reshapes are views
    and an in-place result lands in the stack.
    """
    K, n, _ = arrays[0].shape
    result = function(*[a.reshape(K * n, a.shape[-1]) for a in arrays])
    return result.reshape(K, n, result.shape[-1])


def _transpose(A):
    """Each matrix of a stack transposed (the model axis)."""
    return A.swapaxes(-1, -2)


def _activate(net, l, Z, out):
    """σ_l(Z), into ``out`` if the activation offers ``forward_into``."""
    into = net.forward_into[l - 1]
    if into is None or out is None:
        forward = net.sigmas[l - 1].forward
        return forward(Z) if Z.ndim == 2 else rowwise(forward, Z)
    return into(Z, out) if Z.ndim == 2 else rowwise(into, Z, out)


def _times_derivative(net, l, Delta, Z, A):
    """Δ ⊙ σ_l'(Z), in place (through ``multiply_derivative`` where offered)."""
    fused = net.multiply_derivative[l - 1]
    if fused is not None:
        return fused(Delta, Z, A) if Z.ndim == 2 else rowwise(fused, Delta, Z, A)
    derivative = net.sigmas[l - 1].derivative
    Delta *= derivative(Z, A) if Z.ndim == 2 else rowwise(derivative, Z, A)
    return Delta


def forward(net, X, Ws, bs, workspace=None, masks=None):
    """Forward propagation; return the lists ``Zs``, ``As`` and ``inputs``.

    ``As[0]`` is X and ``Zs[0]`` is None, so that ``Zs[l]``, ``As[l]`` are
    Z^l, A^l of the derivation, for l = 1..L. X may be a scipy sparse matrix
    (only the first product touches it). With a workspace, a hidden layer
    whose σ' reads only a (``derivative_from_a``) computes A^l over Z^l, and
    ``Zs[l]`` is then A^l.

    ``inputs[l]`` is what layer l+1 multiplies: A^l itself, or with dropout
    (``masks[l]``, the mask M^l of hidden layer l, already scaled by
    1 / (1 − p_l)) the masked Ã^l = A^l ⊙ M^l. Without masks ``inputs`` is
    ``As``, the same list.
    """
    ws, u = workspace, ufuncs(net.xp)
    Zs, As = [None], [X]
    inputs = As if masks is None else [X]
    for l, (W, b) in enumerate(zip(Ws, bs, strict=True), start=1):
        Z = _matmul(inputs[l - 1], W, ws and ws.Zs[l])
        Z += b  # Z^l = Ã^{l-1} W^l + b^l  (Ã^{l-1} = A^{l-1} without dropout)
        Zs.append(Z)
        As.append(_activate(net, l, Z, ws and ws.As[l]))  # A^l = σ_l(Z^l)
        if masks is not None:
            inputs.append(As[l] if masks[l] is None else  # Ã^l = A^l ⊙ M^l
                          u.multiply(As[l], masks[l], out=ws and ws.Drops[l]))
    return Zs, As, inputs


def logits(net, X, Ws, bs):
    """Return Z^L for X without keeping the intermediate layers."""
    A = X
    for l, (W, b) in enumerate(zip(Ws, bs, strict=True), start=1):
        if l > 1:
            A = _activate(net, l - 1, A, A)  # A^{l-1} = σ_{l-1}(Z^{l-1})
        A = A @ W
        A += b  # Z^l = A^{l-1} W^l + b^l
    return A


def predict(net, X, Ws, bs, chunk_size=None):
    """Return A^L = σ_L(Z^L) for X, a chunk of rows at a time.

    Only one chunk's hidden layers exist at any moment, so memory stays
    bounded however many rows X has. By default a chunk holds about 2²¹
    values of the widest layer.
    """
    n, L = X.shape[0], len(Ws)
    if chunk_size is None:
        chunk_size = max(1, 2**21 // max(W.shape[1] for W in Ws))
    if n <= chunk_size:
        Z = logits(net, X, Ws, bs)
        return _activate(net, L, Z, Z)
    out = empty((n, Ws[-1].shape[1]), net.xp.result_type(X.dtype, Ws[-1].dtype), Ws[-1])
    for start in range(0, n, chunk_size):
        chunk = slice(start, start + chunk_size)
        Z = logits(net, rows(X, chunk), Ws, bs)
        out[chunk, ...] = _activate(net, L, Z, Z)
    return out


def output_delta(net, Y, Zs, As, sample_weight):
    """Δ^L = s ⊙ δ^L, δ^L = ∂ℓ/∂Z^L as the loss defines it (a − y for canonical pairs)."""
    if Y.ndim == 2:
        Delta = net.loss.delta(Y, Zs[-1], As[-1], net.output)
    else:
        Delta = rowwise(lambda y, z, a: net.loss.delta(y, z, a, net.output), Y, Zs[-1], As[-1])
    if sample_weight is not None:
        Delta *= sample_weight[..., None]
    return Delta


def backward(net, Delta, Ws, fwd, grads, workspace=None, masks=None):
    """δ-backpropagation of Δ^L: (Ã^{l-1})ᵀ Δ^l into ``grads[0]``, Σ_rows Δ^l into ``grads[1]``.

    ``fwd`` is :func:`forward`'s (Zs, As, inputs) and ``masks`` its dropout
    masks (Ã = A without). :func:`loss_and_gradient` then adds α W^l and
    divides by Σ s, for all layers at once on the packed gradient vector.
    """
    (Zs, As, inputs), (gWs, gbs), u = fwd, grads, ufuncs(net.xp)
    stacked = Delta.ndim == 3  # the model axis: each model's matrices, each model's rows
    for l in range(len(Ws), 0, -1):
        i = l - 1  # python index of layer l
        A, W = inputs[l - 1], Ws[i]
        _matmul(_transpose(A) if stacked else A.T, Delta, gWs[i])  # (Ã^{l-1})ᵀ Δ^l
        if stacked:  # into each model's b^l (K, 1, n_l)
            u.add.reduce(Delta, axis=1, out=gbs[i], keepdims=True)
        else:
            u.add.reduce(Delta, axis=0, out=gbs[i])  # Σ_rows Δ^l
        if l > 1:
            # Δ^{l-1} = (Δ^l (W^l)ᵀ) ⊙ M^{l-1} ⊙ σ'_{l-1}(Z^{l-1})  (no M without dropout)
            Delta = _matmul(Delta, _transpose(W) if stacked else W.T,
                            workspace and workspace.Deltas[l - 1])
            if masks is not None and masks[l - 1] is not None:
                Delta *= masks[l - 1]
            Delta = _times_derivative(net, l - 1, Delta, Zs[l - 1], As[l - 1])


def squared_norm(W_vectors):
    """Σ_l ‖W^l‖²_F, layer by layer (scikit-learn's grouping of the sum, to the last bit).

    ``W_vectors``: each W^l flattened (a view).
    """
    total, product = 0, np.dot if isinstance(W_vectors[0], np.ndarray) else dot
    for w in W_vectors:
        total += product(w, w)
    return total


def penalty(alpha, W_vectors, weight):
    """The L2 term of J: α Σ_l ‖W^l‖²_F / (2 m), m = Σ s of the batch.

    Its one home: the engine's J, the Dask objective and the validation loss
    all add this, summed in scikit-learn's order to the last bit.
    """
    return (0.5 * alpha) * squared_norm(W_vectors) / weight


def objective(net, Y, A_L, W_vectors, sw_sum, sample_weight):
    """J = Σ_i s_i ℓ(y_i, a_i) / Σ s + α / (2 Σ s) Σ_l ‖W^l‖²_F.

    Summed in the order scikit-learn's MLP sums it, so that the same weights give
    the same J to the last bit: L-BFGS's line search compares values of J, and one
    differing rounding would send the two libraries down different paths.
    """
    return regularized(net, net.loss(Y, A_L, sample_weight), W_vectors, sw_sum)


def regularized(net, data_term, W_vectors, sw_sum):
    """J from its data term Σ_i s_i ℓ_i / Σ s: the L2 term added, in scikit-learn's order."""
    return _array_api.loss_value(float(data_term) + penalty(net.alpha, W_vectors, sw_sum),
                                 net.xp)


def total_weight(X, sample_weight):
    """Σ s: the number of rows without weights."""
    if sample_weight is None:
        return X.shape[0]
    return _array_api.sum(sample_weight)


def loss_and_gradient(net, theta, X, Y, sample_weight=None, grad=None, workspace=None, *,
                      masks=None):
    """Return (J, ∇J) for one batch at the packed parameters θ.

    Every consumer calls this one function: the SGD and Adam steps, L-BFGS and
    the gradient check.

    Parameters
    ----------
    net : Network
        The layout, activations, loss and α (:class:`skfnn._network.Network`).
    theta : ndarray of shape (net.layout.size,)
        The packed parameters.
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs)
    sample_weight : ndarray of shape (n_samples,) or None
    grad : ndarray of shape (net.layout.size,), optional
        Where to write ∇J; allocated if None.
    workspace : Workspace, optional
        Scratch arrays for X's number of rows; allocated per call if None.
    masks : list, optional
        Dropout masks M^l of the hidden layers (:meth:`Network.draw_masks
        <skfnn._network.Network.draw_masks>`); None trains without dropout.

    Returns
    -------
    J : float
    grad : ndarray of shape (net.layout.size,)
    """
    layout = net.layout
    if grad is None:
        grad = net.xp.empty_like(theta)
    if workspace is None:
        workspace = Workspace(net, X.shape[0], theta.dtype)
    Ws, bs, gWs, gbs = workspace.views_of(theta, grad, layout)
    sw_sum = total_weight(X, sample_weight)
    Zs, As, _ = fwd = forward(net, X, Ws, bs, workspace, masks)
    bound = theta is workspace.theta
    W_vectors = workspace.W_vectors if bound else layout.weight_vectors(theta)
    J = objective(net, Y, As[-1], W_vectors, sw_sum, sample_weight)
    Delta = output_delta(net, Y, Zs, As, sample_weight)  # Δ^L = s ⊙ δ^L
    backward(net, Delta, Ws, fwd, (gWs, gbs), workspace, masks)
    normalize_gradient(net, theta[layout.coefs], grad, sw_sum, workspace.scratch)
    return J, grad


def normalize_gradient(net, W_flat, grad, sw_sum, scratch):
    """∂J/∂W^l = ((A^{l-1})ᵀ Δ^l + α W^l) / Σ s and ∂J/∂b^l = Σ_rows Δ^l / Σ s, in place.

    ``grad`` holds the backpropagated sums; ``W_flat`` is θ's W part; α is ``net``'s.
    """
    alpha = net.alpha
    if alpha:
        u = ufuncs(net.xp)
        for gW, W in blocks(grad[: W_flat.shape[0]], W_flat):
            gW += u.multiply(W, alpha, out=scratch[: W.shape[0]])
    grad /= sw_sum


def objective_at(net, theta, X, Y, sample_weight=None, masks=None):
    """Return J alone at θ (a forward pass, no backpropagation), with ``Zs`` and ``As``."""
    Ws, bs = net.layout.unpack(theta)
    sw_sum = total_weight(X, sample_weight)
    Zs, As, _ = forward(net, X, Ws, bs, masks=masks)
    W_vectors = net.layout.weight_vectors(theta)
    return objective(net, Y, As[-1], W_vectors, sw_sum, sample_weight), Zs, As


def init_params(layout, init_factors, random_state, dtype):
    """Glorot-uniform θ: W^l, b^l ~ U(±sqrt(f_l / (n_{l-1} + n_l))).

    Draws W^1, b^1, W^2, b^2, ... in that order from ``random_state``, as
    scikit-learn's MLP does, so the same seed gives the same initial network.
    """
    Ws, bs = [], []
    for (fan_in, fan_out), factor in zip(layout.coef_shapes, init_factors, strict=True):
        bound = np.sqrt(factor / (fan_in + fan_out))
        Ws.append(random_state.uniform(-bound, bound, (fan_in, fan_out)))
        bs.append(random_state.uniform(-bound, bound, fan_out))
    return layout.pack(Ws, bs, out=np.empty(layout.size, dtype=dtype))

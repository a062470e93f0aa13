"""The numpy engine: forward propagation and δ-backpropagation.

Pure functions, no state, no validation (the estimator validates). Samples are
rows, so the derivation's column-vector equations appear in their batched,
row-major form (see docs/derivation.md):

    Z^l = A^{l-1} W^l + b^l                        forward
    A^l = σ_l(Z^l),  A^0 = X                       forward
    Δ^L = s ⊙ δ^L(Y, Z^L, A^L)                     output_delta
    Δ^l = (Δ^{l+1} (W^{l+1})ᵀ) ⊙ σ_l'(Z^l)         backward
    ∂J/∂W^l = ((A^{l-1})ᵀ Δ^l + α W^l) / Σ s       backward
    ∂J/∂b^l = Σ_rows Δ^l / Σ s                     backward
    J = Σ_i s_i ℓ_i / Σ s + α/(2 Σ s) Σ_l ‖W^l‖²   objective

Δ^l is kept unnormalised (a row per sample, weighted by s) and the division
by Σ s is applied once per gradient, as scikit-learn does, so that the same
weights give the same floating-point gradient.

All parameters live in one contiguous vector θ = [vec W^1, ..., vec W^L, b^1,
..., b^L] (scikit-learn's packing order); :class:`Layout` hands out per-layer
views into θ and into the gradient vector, so an optimizer step is a few vector
operations and L-BFGS sees the same vector.
"""

import numpy as np

__all__ = [
    "Layout",
    "backward",
    "forward",
    "init_params",
    "logits",
    "loss_and_gradient",
    "objective",
    "objective_at",
    "predict",
]


class Layout:
    """Where each W^l and b^l sits in the packed parameter vector θ.

    Parameters
    ----------
    layer_units : sequence of int
        ``[n_features, n_hidden_1, ..., n_outputs]``.
    """

    def __init__(self, layer_units):
        self.layer_units = tuple(int(n) for n in layer_units)
        self.coef_shapes = list(zip(self.layer_units[:-1], self.layer_units[1:]))
        sizes = [n_in * n_out for n_in, n_out in self.coef_shapes] + list(self.layer_units[1:])
        self.bounds = np.concatenate([[0], np.cumsum(sizes)]).tolist()
        self.size = self.bounds[-1]

    @property
    def n_layers(self):
        """L, the number of weight layers."""
        return len(self.coef_shapes)

    def unpack(self, theta):
        """Return the views ``(Ws, bs)`` of θ, with W^l of shape (n_{l-1}, n_l)."""
        L, e = self.n_layers, self.bounds
        Ws = [theta[e[l] : e[l + 1]].reshape(shape) for l, shape in enumerate(self.coef_shapes)]
        bs = [theta[e[L + l] : e[L + l + 1]] for l in range(L)]
        return Ws, bs

    def pack(self, Ws, bs, out=None):
        """Copy the layers into one vector θ (into ``out`` if given)."""
        if out is None:
            out = np.empty(self.size, dtype=np.result_type(*Ws, *bs))
        W_views, b_views = self.unpack(out)
        for view, value in zip(W_views + b_views, list(Ws) + list(bs)):
            view[...] = value
        return out

    def coef_slice(self):
        """The slice of θ holding every W^l (the part that α penalises)."""
        return slice(0, self.bounds[self.n_layers])


def forward(X, Ws, bs, sigmas):
    """Forward propagation; return the lists ``Zs`` and ``As``.

    ``As[0]`` is X and ``Zs[0]`` is None, so that ``Zs[l]``, ``As[l]`` are
    Z^l, A^l of the derivation, for l = 1..L. X may be a scipy sparse matrix
    (only the first product touches it).
    """
    Zs, As = [None], [X]
    for W, b, sigma in zip(Ws, bs, sigmas):
        Z = As[-1] @ W
        Z += b  # Z^l = A^{l-1} W^l + b^l
        Zs.append(Z)
        As.append(sigma.forward(Z))  # A^l = σ_l(Z^l)
    return Zs, As


def logits(X, Ws, bs, sigmas):
    """Return Z^L for X without keeping the intermediate layers."""
    A = X
    for l, (W, b) in enumerate(zip(Ws, bs), start=1):
        if l > 1:
            A = sigmas[l - 2].forward(A)  # A^{l-1} = σ_{l-1}(Z^{l-1})
        A = A @ W
        A += b  # Z^l = A^{l-1} W^l + b^l
    return A


def predict(X, Ws, bs, sigmas):
    """Return A^L = σ_L(Z^L) for X without keeping the intermediate layers."""
    return sigmas[-1].forward(logits(X, Ws, bs, sigmas))


def output_delta(Y, Zs, As, sigmas, loss, sample_weight):
    """Δ^L = s ⊙ δ^L, δ^L = ∂ℓ/∂Z^L as the loss defines it (a − y for canonical pairs)."""
    delta = loss.delta(Y, Zs[-1], As[-1], sigmas[-1])
    if sample_weight is not None:
        delta *= sample_weight[:, np.newaxis]
    return delta


def backward(Y, Ws, Zs, As, sigmas, loss, alpha, sw_sum, sample_weight, gWs, gbs):
    """δ-backpropagation: write ∂J/∂W^l into ``gWs[l-1]`` and ∂J/∂b^l into ``gbs[l-1]``."""
    Delta = output_delta(Y, Zs, As, sigmas, loss, sample_weight)
    for l in range(len(Ws), 0, -1):
        i = l - 1  # python index of layer l
        np.copyto(gWs[i], As[l - 1].T @ Delta)
        gWs[i] += alpha * Ws[i]
        gWs[i] /= sw_sum  # ∂J/∂W^l = ((A^{l-1})ᵀ Δ^l + α W^l) / Σ s
        np.divide(Delta.sum(axis=0), sw_sum, out=gbs[i])  # ∂J/∂b^l = Σ_rows Δ^l / Σ s
        if l > 1:
            # Δ^{l-1} = (Δ^l (W^l)ᵀ) ⊙ σ'_{l-1}(Z^{l-1})
            Delta = (Delta @ Ws[i].T) * sigmas[i - 1].derivative(Zs[l - 1], As[l - 1])


def objective(Y, A_L, Ws, loss, alpha, sw_sum, sample_weight):
    """J = Σ_i s_i ℓ(y_i, a_i) / Σ s + α / (2 Σ s) Σ_l ‖W^l‖²_F."""
    penalty = sum(np.dot(W.ravel(), W.ravel()) for W in Ws)
    return float(loss(Y, A_L, sample_weight)) + 0.5 * alpha * penalty / sw_sum


def loss_and_gradient(theta, X, Y, layout, sigmas, loss, alpha, sample_weight=None, grad=None):
    """Return (J, ∇J) for one batch at the packed parameters θ.

    Every consumer calls this one function: the SGD and Adam steps, L-BFGS and
    the gradient check.

    Parameters
    ----------
    theta : ndarray of shape (layout.size,)
        The packed parameters.
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs)
    layout : Layout
    sigmas : list of Activation
        σ_1, ..., σ_L (the last one is the output activation).
    loss : Loss
    alpha : float
        The L2 penalty.
    sample_weight : ndarray of shape (n_samples,) or None
    grad : ndarray of shape (layout.size,), optional
        Where to write ∇J; allocated if None.

    Returns
    -------
    J : float
    grad : ndarray of shape (layout.size,)
    """
    if grad is None:
        grad = np.empty_like(theta)
    Ws, bs = layout.unpack(theta)
    gWs, gbs = layout.unpack(grad)
    sw_sum = X.shape[0] if sample_weight is None else sample_weight.sum()
    Zs, As = forward(X, Ws, bs, sigmas)
    J = objective(Y, As[-1], Ws, loss, alpha, sw_sum, sample_weight)
    backward(Y, Ws, Zs, As, sigmas, loss, alpha, sw_sum, sample_weight, gWs, gbs)
    return J, grad


def objective_at(theta, X, Y, layout, sigmas, loss, alpha, sample_weight=None):
    """Return J alone at θ (a forward pass, no backpropagation), and the ``As``."""
    Ws, bs = layout.unpack(theta)
    sw_sum = X.shape[0] if sample_weight is None else sample_weight.sum()
    Zs, As = forward(X, Ws, bs, sigmas)
    return objective(Y, As[-1], Ws, loss, alpha, sw_sum, sample_weight), Zs, As


def init_params(layout, init_factors, random_state, dtype):
    """Glorot-uniform θ: W^l, b^l ~ U(±sqrt(f_l / (n_{l-1} + n_l))).

    Draws W^1, b^1, W^2, b^2, ... in that order from ``random_state``, as
    scikit-learn's MLP does, so the same seed gives the same initial network.
    """
    Ws, bs = [], []
    for (fan_in, fan_out), factor in zip(layout.coef_shapes, init_factors):
        bound = np.sqrt(factor / (fan_in + fan_out))
        Ws.append(random_state.uniform(-bound, bound, (fan_in, fan_out)))
        bs.append(random_state.uniform(-bound, bound, fan_out))
    return layout.pack(Ws, bs, out=np.empty(layout.size, dtype=dtype))

"""The δ-backprop gradient equals central finite differences of J.

The objective is recomputed here from its formula,

    J(θ) = Σ_i s_i ℓ(y_i, a_i) / Σ_i s_i + α / (2 Σ_i s_i) Σ_l ‖W^l‖²_F,

with the test's own unpacking of θ (scikit-learn's order: vec W^1 .. vec W^L,
b^1 .. b^L), its own forward pass and its own activation and loss formulas, so
the finite differences do not share code with the engine they check.
"""

import numpy as np
import pytest
from scipy.special import erf

from skfnn import _engine
from skfnn._network import Network
from skfnn.activations import ACTIVATIONS, Activation, Tanh, get_activation
from skfnn.losses import (
    AbsoluteError,
    BinaryLogLoss,
    HuberLoss,
    LogLoss,
    PoissonLoss,
    SquaredError,
)

H = 1e-6  # central-difference step (float64)
GRAD_RTOL = 1e-6  # norm-wise relative error allowed between backprop and FD
KINK_MARGIN = 1e-4  # no pre-activation / residual this close to a kink

# ----------------------------------------------------------------------------
# Reference formulas, written independently of skfnn
# ----------------------------------------------------------------------------


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


REF_ACTIVATIONS = {
    "identity": lambda z: z,
    "logistic": _sigmoid,
    "tanh": lambda z: (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z)),
    "relu": lambda z: np.where(z > 0, z, 0.0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "elu": lambda z: np.where(z > 0, z, np.exp(np.minimum(z, 0)) - 1),
    "softplus": lambda z: np.log(1 + np.exp(z)),
    "gelu": lambda z: z * 0.5 * (1 + erf(z / np.sqrt(2))),  # exact GELU, z Φ(z)
    "silu": lambda z: z * _sigmoid(z),
    "exp": np.exp,
}
# Points where the activation (or, for elu, its second derivative) is not smooth.
KINKS = {"relu": 0.0, "leaky_relu": 0.0, "elu": 0.0}


def _ref_softmax(z):
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _ref_poisson(y, a):
    # Half Poisson deviance, y log(y/a) − y + a, with 0 log 0 = 0.
    return (y * np.log(np.where(y > 0, y / a, 1.0)) - y + a).sum(axis=1)


def _ref_huber(y, a, t=1.0):
    r = np.abs(a - y)
    return np.where(r <= t, 0.5 * r**2, t * r - 0.5 * t**2).sum(axis=1)


# Per-sample losses, summed over the outputs (skfnn's convention).
REF_LOSSES = {
    "squared_error": lambda y, a: 0.5 * ((a - y) ** 2).sum(axis=1),
    "poisson": _ref_poisson,
    "absolute_error": lambda y, a: np.abs(a - y).sum(axis=1),
    "huber": _ref_huber,
    "binary_log_loss": lambda y, a: -(y * np.log(a) + (1 - y) * np.log(1 - a)).sum(axis=1),
    "log_loss": lambda y, a: -(y * np.log(a)).sum(axis=1),
}

ELEMENTWISE = sorted(name for name, cls in ACTIVATIONS.items() if cls.elementwise)


def test_reference_formulas_cover_every_elementwise_activation():
    # A new built-in must get a reference formula here (and so a gradient check).
    assert "exp" in ELEMENTWISE and "softmax" not in ELEMENTWISE
    assert set(ELEMENTWISE) == set(REF_ACTIVATIONS)


# ----------------------------------------------------------------------------
# The problems: (loss, output activation, targets)
# ----------------------------------------------------------------------------


def _targets(kind, rng, n):
    if kind == "real":
        return rng.normal(0.0, 1.5, (n, 2))
    if kind == "unit":
        return rng.uniform(0.05, 0.95, (n, 2))
    if kind == "symmetric":
        return rng.uniform(-0.9, 0.9, (n, 2))
    if kind == "counts":
        Y = rng.poisson(1.5, (n, 2)).astype(float)
        Y[0, 0] = 0.0  # exercises 0 log 0 = 0
        return Y
    if kind == "binary":
        return (np.arange(n) % 2).reshape(-1, 1).astype(float)
    if kind == "multilabel":
        Y = (rng.uniform(size=(n, 3)) < 0.5).astype(float)
        Y[0], Y[1] = [0, 0, 0], [1, 1, 1]
        return Y
    if kind == "onehot":
        return np.eye(3)[np.arange(n) % 3]
    raise AssertionError(kind)


# id: (loss class, registry name of the reference loss, output activation, targets)
PAIRINGS = {
    "squared_error-identity": (SquaredError, "squared_error", "identity", "real"),
    "squared_error-logistic": (SquaredError, "squared_error", "logistic", "unit"),
    "squared_error-tanh": (SquaredError, "squared_error", "tanh", "symmetric"),
    "poisson-exp": (PoissonLoss, "poisson", "exp", "counts"),
    "poisson-softplus": (PoissonLoss, "poisson", "softplus", "counts"),
    "absolute_error-identity": (AbsoluteError, "absolute_error", "identity", "real"),
    "huber-identity": (HuberLoss, "huber", "identity", "real"),
    "binary_log_loss-logistic-binary": (BinaryLogLoss, "binary_log_loss", "logistic", "binary"),
    "binary_log_loss-logistic-multilabel": (
        BinaryLogLoss, "binary_log_loss", "logistic", "multilabel"),
    "log_loss-softmax-3-classes": (LogLoss, "log_loss", "softmax", "onehot"),
    # Any loss with softmax: δ^L through the softmax Jacobian-vector product.
    "squared_error-softmax-3-classes": (SquaredError, "squared_error", "softmax", "onehot"),
    "absolute_error-softmax-3-classes": (AbsoluteError, "absolute_error", "softmax", "onehot"),
    # One-vs-rest: logistic units with the per-unit log-loss on a multiclass target.
    "binary_log_loss-logistic-3-classes": (
        BinaryLogLoss, "binary_log_loss", "logistic", "onehot"),
}


def _ref_output(name):
    return _ref_softmax if name == "softmax" else REF_ACTIVATIONS[name]


def _unpack(theta, units):
    """θ → (Ws, bs), written out independently of Layout."""
    Ws, bs, pos = [], [], 0
    for n_in, n_out in zip(units[:-1], units[1:], strict=True):
        Ws.append(theta[pos : pos + n_in * n_out].reshape(n_in, n_out))
        pos += n_in * n_out
    for n_out in units[1:]:
        bs.append(theta[pos : pos + n_out])
        pos += n_out
    assert pos == theta.size
    return Ws, bs


def _ref_forward(theta, X, units, hidden, out, masks=None):
    """Return the pre-activations Z^1..Z^L and A^L, with the reference formulas.

    ``masks[l]`` (for hidden layer l = 1..L−1, None for none) multiplies A^l: dropout.
    """
    Ws, bs = _unpack(theta, units)
    A, Zs = X, []
    for l, (W, b) in enumerate(zip(Ws, bs, strict=True), start=1):
        Z = A @ W + b
        Zs.append(Z)
        A = _ref_output(out)(Z) if l == len(Ws) else REF_ACTIVATIONS[hidden](Z)
        if masks is not None and l < len(Ws) and masks[l] is not None:
            A = A * masks[l]
    return Zs, A


def _ref_objective(theta, X, Y, units, hidden, out, loss_name, alpha, sw, masks=None):
    _, A = _ref_forward(theta, X, units, hidden, out, masks)
    s = np.ones(X.shape[0]) if sw is None else sw
    penalty = sum((W**2).sum() for W in _unpack(theta, units)[0])
    return (s * REF_LOSSES[loss_name](Y, A)).sum() / s.sum() + alpha / (2 * s.sum()) * penalty


def _fd_gradient(f, theta, h=H):
    g = np.empty_like(theta)
    for i in range(theta.size):
        tp, tm = theta.copy(), theta.copy()
        tp[i] += h
        tm[i] -= h
        g[i] = (f(tp) - f(tm)) / (2 * h)
    return g


def _relative_error(g, g_fd):
    return np.linalg.norm(g - g_fd) / max(np.linalg.norm(g), np.linalg.norm(g_fd))


def _problem(pairing, hidden_sizes, seed):
    _, _, out, kind = PAIRINGS[pairing]
    rng = np.random.RandomState(seed)
    n, n_features = 7, 5
    X = rng.normal(size=(n, n_features))
    Y = _targets(kind, rng, n)
    units = [n_features, *hidden_sizes, Y.shape[1]]
    # W^l ~ N(0, 0.5² / n_{l-1}), b^l ~ N(0, 0.3²): every layer's pre-activations
    # stay O(1), so even exp hidden units neither overflow nor saturate the output.
    scale = [np.full(n_in * n_out, 0.5 / np.sqrt(n_in))
             for n_in, n_out in zip(units, units[1:], strict=False)]  # (units has one more)
    scale += [np.full(n_out, 0.3) for n_out in units[1:]]
    theta = rng.normal(size=_engine.Layout(units).size) * np.concatenate(scale)
    sw = rng.uniform(0.5, 2.0, n)
    sw[3] = 0.0  # a zero weight must remove the sample from J and ∇J
    return X, Y, units, theta, sw


def _assert_away_from_kinks(theta, X, Y, units, hidden, out, loss_name):
    """The finite differences are only valid where J is smooth around θ."""
    Zs, A = _ref_forward(theta, X, units, hidden, out)
    if hidden in KINKS:
        closest = min(np.abs(Z - KINKS[hidden]).min() for Z in Zs[:-1])
        assert closest > KINK_MARGIN, f"a hidden pre-activation is {closest:.1e} from the kink"
    r = np.abs(A - Y)
    if loss_name == "absolute_error":
        assert r.min() > KINK_MARGIN
        assert (A > Y).any() and (A < Y).any(), "both signs of the residual should be checked"
    if loss_name == "huber":
        assert np.abs(r - 1.0).min() > KINK_MARGIN
        assert (r < 1).any() and (r > 1).any(), "both Huber regimes should be checked"


@pytest.mark.parametrize("alpha", [0.0, 0.3], ids=["alpha=0", "alpha=0.3"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
@pytest.mark.parametrize("hidden_sizes", [(4,), (4, 3)], ids=["hidden=4", "hidden=4-3"])
@pytest.mark.parametrize("pairing", list(PAIRINGS))
@pytest.mark.parametrize("hidden", ELEMENTWISE)
def test_backprop_gradient_equals_finite_differences(hidden, pairing, hidden_sizes, weighted,
                                                      alpha):
    loss_cls, loss_name, out, _ = PAIRINGS[pairing]
    X, Y, units, theta, sw = _problem(pairing, hidden_sizes, seed=0)
    sw = sw if weighted else None
    _assert_away_from_kinks(theta, X, Y, units, hidden, out, loss_name)
    sigmas = [get_activation(hidden)] * len(hidden_sizes) + [get_activation(out)]
    theta_before = theta.copy()

    J, g = _engine.loss_and_gradient(Network(units, sigmas, loss_cls(), alpha), theta, X, Y, sw)

    def objective(t):
        return _ref_objective(t, X, Y, units, hidden, out, loss_name, alpha, sw)

    g_fd = _fd_gradient(objective, theta)
    np.testing.assert_array_equal(theta, theta_before)
    np.testing.assert_allclose(J, objective(theta), rtol=1e-12)
    assert np.linalg.norm(g_fd) > 1e-3  # a meaningful comparison
    assert _relative_error(g, g_fd) < GRAD_RTOL
    # Coordinate by coordinate, with an absolute floor for the entries that are
    # (near) zero, e.g. the weights into dead ReLU units.
    np.testing.assert_allclose(g, g_fd, rtol=1e-5, atol=1e-7 * np.abs(g_fd).max())


@pytest.mark.parametrize("where", ["hidden", "output"])
def test_a_wrong_derivative_is_detected(where):
    """The gradient check above can fail: a derivative off by 10% is caught."""

    class OffTanh(Activation):
        name = "off_tanh"

        def forward(self, z):
            return np.tanh(z)

        def derivative(self, z, a):
            return 1.1 * (1 - a**2)

    X, Y, units, theta, _ = _problem("squared_error-tanh", (4,), seed=0)

    def objective(t):
        return _ref_objective(t, X, Y, units, "tanh", "tanh", "squared_error", 0.0, None)

    g_fd = _fd_gradient(objective, theta)
    right = [get_activation("tanh"), get_activation("tanh")]
    wrong = [OffTanh(), right[1]] if where == "hidden" else [right[0], OffTanh()]
    _, g_right = _engine.loss_and_gradient(Network(units, right, SquaredError()), theta, X, Y)
    _, g_wrong = _engine.loss_and_gradient(Network(units, wrong, SquaredError()), theta, X, Y)
    assert _relative_error(g_right, g_fd) < GRAD_RTOL
    assert _relative_error(g_wrong, g_fd) > 1e-2


# ----------------------------------------------------------------------------
# Each activation and each loss on its own
# ----------------------------------------------------------------------------


def _spread(name):
    z = np.linspace(-6, 6, 121) + 0.0123  # no point exactly at 0
    if name in KINKS:
        z = z[np.abs(z - KINKS[name]) > 1e-3]
    return z.reshape(11, -1)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_activation_forward_matches_formula(name):
    z = _spread(name)
    np.testing.assert_allclose(get_activation(name).forward(z), REF_ACTIVATIONS[name](z),
                               rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_activation_derivative_equals_finite_differences(name):
    sigma = get_activation(name)
    z = _spread(name)
    h = 1e-6
    fd = (sigma.forward(z + h) - sigma.forward(z - h)) / (2 * h)
    d = sigma.derivative(z, sigma.forward(z))
    assert d.shape == z.shape
    np.testing.assert_allclose(d, fd, rtol=1e-6, atol=1e-8)


# id: (loss, target, prediction) with predictions in the loss's domain
LOSS_CASES = {
    "squared_error": (SquaredError(), "real", lambda rng, s: rng.normal(size=s)),
    "absolute_error": (AbsoluteError(), "real", lambda rng, s: rng.normal(size=s)),
    "huber": (HuberLoss(), "real", lambda rng, s: rng.normal(size=s)),
    "poisson": (PoissonLoss(), "counts", lambda rng, s: rng.uniform(0.2, 4.0, s)),
    "binary_log_loss": (BinaryLogLoss(), "multilabel", lambda rng, s: rng.uniform(0.05, 0.95, s)),
    "log_loss": (LogLoss(), "onehot", lambda rng, s: _ref_softmax(rng.normal(size=s))),
}


def _loss_case(name, seed=1):
    loss, kind, draw = LOSS_CASES[name]
    rng = np.random.RandomState(seed)
    Y = _targets(kind, rng, 6)
    A = draw(rng, Y.shape)
    r = np.abs(A - Y)
    assert r.min() > KINK_MARGIN and np.abs(r - 1).min() > KINK_MARGIN  # abs / huber kinks
    return loss, Y, A


@pytest.mark.parametrize("name", list(LOSS_CASES))
def test_loss_value_matches_formula(name):
    loss, Y, A = _loss_case(name)
    s = np.random.RandomState(2).uniform(0.5, 2.0, Y.shape[0])
    per_sample = REF_LOSSES[name](Y, A)
    np.testing.assert_allclose(loss.per_sample(Y, A), per_sample, rtol=1e-12)
    np.testing.assert_allclose(loss(Y, A), per_sample.mean(), rtol=1e-12)
    np.testing.assert_allclose(loss(Y, A, s), (s * per_sample).sum() / s.sum(), rtol=1e-12)


@pytest.mark.parametrize("name", list(LOSS_CASES))
def test_loss_gradient_equals_finite_differences_of_per_sample(name):
    loss, Y, A = _loss_case(name)
    h = 1e-6
    fd = np.empty_like(A)
    for j in range(A.shape[1]):
        E = np.zeros_like(A)
        E[:, j] = h
        fd[:, j] = (loss.per_sample(Y, A + E) - loss.per_sample(Y, A - E)) / (2 * h)
    np.testing.assert_allclose(loss.gradient(Y, A), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("pairing", list(PAIRINGS))
def test_output_delta_equals_finite_differences_in_z(pairing):
    """loss.delta(y, z, σ(z), σ) = ∂ℓ/∂z, for canonical and non-canonical pairs alike."""
    loss_cls, loss_name, out, kind = PAIRINGS[pairing]
    rng = np.random.RandomState(3)
    Y = _targets(kind, rng, 6)
    Z = rng.normal(size=Y.shape)
    sigma, ref = get_activation(out), _ref_output(out)
    r = np.abs(ref(Z) - Y)
    assert r.min() > KINK_MARGIN and np.abs(r - 1).min() > KINK_MARGIN
    h = 1e-6
    fd = np.empty_like(Z)
    for j in range(Z.shape[1]):
        E = np.zeros_like(Z)
        E[:, j] = h
        lp = REF_LOSSES[loss_name](Y, ref(Z + E))
        lm = REF_LOSSES[loss_name](Y, ref(Z - E))
        fd[:, j] = (lp - lm) / (2 * h)
    np.testing.assert_allclose(loss_cls().delta(Y, Z, sigma.forward(Z), sigma), fd,
                               rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------------------
# The canonical shortcut δ^L = a − y is the chain rule, simplified
# ----------------------------------------------------------------------------


class _Plain(Activation):
    """Wraps a built-in without inheriting from it, so no loss sees a canonical link."""

    name = "plain"

    def __init__(self, inner):
        self.inner = inner

    def forward(self, z):
        return self.inner.forward(z)

    def derivative(self, z, a):
        return self.inner.derivative(z, a)


CANONICAL = {
    "squared_error-identity": (SquaredError(), "identity", "real"),
    "binary_log_loss-logistic": (BinaryLogLoss(), "logistic", "multilabel"),
    "poisson-exp": (PoissonLoss(), "exp", "counts"),
}


@pytest.mark.parametrize("pair", list(CANONICAL))
def test_canonical_shortcut_equals_general_chain_rule(pair):
    loss, out, kind = CANONICAL[pair]
    rng = np.random.RandomState(4)
    Y = _targets(kind, rng, 6)
    Z = rng.normal(size=Y.shape)
    sigma = get_activation(out)
    A = sigma.forward(Z)
    chain_rule = loss.gradient(Y, A) * sigma.derivative(Z, A)  # ∂ℓ/∂a ⊙ σ'(z)
    np.testing.assert_allclose(chain_rule, A - Y, rtol=1e-10, atol=1e-14)
    # The shortcut is taken for the canonical link, the chain rule for a look-alike.
    np.testing.assert_array_equal(loss.delta(Y, Z, A, sigma), A - Y)
    np.testing.assert_allclose(loss.delta(Y, Z, A, _Plain(sigma)), A - Y, rtol=1e-10,
                               atol=1e-14)


def test_softmax_log_loss_shortcut_equals_full_jacobian():
    """δ = Jᵀ ∂ℓ/∂a with the softmax Jacobian J_kj = a_k (1[k=j] − a_j) is a − y."""
    rng = np.random.RandomState(5)
    Y = _targets("onehot", rng, 6)
    Z = rng.normal(size=Y.shape)
    loss, softmax = LogLoss(), get_activation("softmax")
    A = softmax.forward(Z)
    g = loss.gradient(Y, A)
    delta = np.stack([(np.diag(a) - np.outer(a, a)).T @ gi for a, gi in zip(A, g, strict=True)])
    np.testing.assert_allclose(delta, A - Y, rtol=1e-10, atol=1e-14)
    np.testing.assert_array_equal(loss.delta(Y, Z, A, softmax), A - Y)


# ----------------------------------------------------------------------------
# The allocation-free paths the training loop takes
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("hidden", ELEMENTWISE)
@pytest.mark.parametrize("pairing", list(PAIRINGS))
def test_gradient_with_a_reused_workspace_equals_finite_differences(pairing, hidden):
    """The training loop passes a Workspace, reused from batch to batch."""
    loss_cls, loss_name, out, _ = PAIRINGS[pairing]
    X, Y, units, theta, sw = _problem(pairing, (4, 3), seed=0)
    _assert_away_from_kinks(theta, X, Y, units, hidden, out, loss_name)
    sigmas = [get_activation(hidden)] * 2 + [get_activation(out)]
    net = Network(units, sigmas, loss_cls(), 0.3)
    workspace = _engine.Workspace(net, X.shape[0], X.dtype)
    # A first batch at other parameters leaves its values in the scratch arrays.
    other = theta[::-1].copy()
    _engine.loss_and_gradient(net, other, X, Y, workspace=workspace)
    grad = np.full_like(theta, np.nan)
    J, g = _engine.loss_and_gradient(net, theta, X, Y, sw, grad=grad, workspace=workspace)
    assert g is grad

    def objective(t):
        return _ref_objective(t, X, Y, units, hidden, out, loss_name, 0.3, sw)

    np.testing.assert_allclose(J, objective(theta), rtol=1e-12)
    assert _relative_error(g, _fd_gradient(objective, theta)) < GRAD_RTOL


@pytest.mark.parametrize(
    "name",
    sorted(n for n, cls in ACTIVATIONS.items() if getattr(cls, "forward_into", None) is not None))
def test_forward_into_matches_forward(name):
    """The optional ``forward_into(z, out)`` returns σ(z), also when out is z."""
    sigma = get_activation(name)
    z = _spread(name)
    expected = REF_ACTIVATIONS[name](z) if name != "softmax" else _ref_softmax(z)
    out = np.empty_like(z)
    np.testing.assert_allclose(sigma.forward_into(z.copy(), out), expected, rtol=1e-12,
                               atol=1e-15)
    # In place, as the engine's prediction path uses it (out is z).
    z_inplace = z.copy()
    np.testing.assert_allclose(sigma.forward_into(z_inplace, z_inplace), expected,
                               rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "name",
    sorted(n for n, cls in ACTIVATIONS.items()
           if getattr(cls, "multiply_derivative", None) is not None))
def test_multiply_derivative_matches_derivative(name):
    """The optional in-place ``multiply_derivative`` is Δ ⊙ σ'(z)."""
    sigma = get_activation(name)
    z = _spread(name)
    a = sigma.forward(z)
    delta = np.random.RandomState(6).normal(size=z.shape)
    result = sigma.multiply_derivative(delta.copy(), z, a)
    np.testing.assert_allclose(result, delta * sigma.derivative(z, a), rtol=1e-14, atol=0)


class _HalvedSquaredError(SquaredError):
    """Overrides per_sample only: the inherited pointwise must not be used."""

    def per_sample(self, y, a):
        return 0.25 * ((a - y) ** 2).sum(axis=1)


class _HalvedActivationTanh(Tanh):
    """Overrides derivative only: inherited fast paths must not be used."""

    def derivative(self, z, a):
        return 0.5 * (1 - a**2)


def test_loss_subclass_overriding_per_sample_is_what_call_uses():
    rng = np.random.RandomState(0)
    y, a = rng.randn(6, 2), rng.randn(6, 2)
    assert _HalvedSquaredError()(y, a) == pytest.approx(0.25 * ((a - y) ** 2).sum() / 6)
    assert SquaredError()(y, a) == pytest.approx(0.5 * ((a - y) ** 2).sum() / 6)


def test_activation_subclass_overriding_derivative_drops_inherited_fast_paths():
    assert _HalvedActivationTanh.multiply_derivative is None
    assert _HalvedActivationTanh.derivative_from_a is False
    assert Tanh.derivative_from_a is True


@pytest.mark.parametrize("pairing", ["squared_error-identity", "log_loss-softmax-3-classes",
                                     "squared_error-softmax-3-classes",
                                     "binary_log_loss-logistic-multilabel"])
@pytest.mark.parametrize("hidden", ELEMENTWISE)
def test_dropout_gradient_equals_finite_differences_with_the_masks_fixed(hidden, pairing):
    """Inverted dropout: Ã^l = A^l ⊙ m^l / (1 − p_l), masks drawn by the network."""
    loss_cls, loss_name, out, _ = PAIRINGS[pairing]
    X, Y, units, theta, sw = _problem(pairing, (4, 3), seed=0)
    _assert_away_from_kinks(theta, X, Y, units, hidden, out, loss_name)
    sigmas = [get_activation(hidden)] * 2 + [get_activation(out)]
    net = Network(units, sigmas, loss_cls(), 0.3, dropout=[0.5, 0.25])
    masks = net.draw_masks(np.random.RandomState(0), X.shape[0], np.float64)
    # The masks are 0 or 1 / (1 − p), per row and unit, and drop some units.
    for mask, p in zip(masks[1:3], (0.5, 0.25), strict=True):
        assert set(np.unique(mask)) == {0.0, 1 / (1 - p)}
    J, g = _engine.loss_and_gradient(net, theta, X, Y, sw, masks=masks)

    def objective(t):
        return _ref_objective(t, X, Y, units, hidden, out, loss_name, 0.3, sw, masks)

    np.testing.assert_allclose(J, objective(theta), rtol=1e-12)
    g_fd = _fd_gradient(objective, theta)
    assert _relative_error(g, g_fd) < GRAD_RTOL
    # And the dropped network's gradient is not the full network's.
    _, g_full = _engine.loss_and_gradient(net.replace(dropout=[0.0, 0.0]), theta, X, Y, sw)
    assert _relative_error(g, g_full) > 1e-2

"""Forward and δ-backpropagation of a 2-2-1 (and 2-2-2) network, worked by hand.

Every quantity of the derivation (z^1, a^1, z^2, a^2, δ^2, δ^1, ∂J/∂W, ∂J/∂b) is
written out below as scalar arithmetic with ``math``, one sample at a time, in
the column-vector form of the derivation:

    z^l = W^l a^{l-1} + b^l,  a^l = σ(z^l),  δ^L = ∂ℓ/∂a^L ⊙ σ'(z^L),
    δ^l = (W^{l+1})ᵀ δ^{l+1} ⊙ σ'(z^l),  ∂ℓ/∂W^l = δ^l (a^{l-1})ᵀ,  ∂ℓ/∂b^l = δ^l.

(skfnn stores W^l transposed, as ``coefs_[l-1]`` of shape (n_{l-1}, n_l): the
entry W[i][j] below connects input unit i to output unit j.) The numbers in
the comments were worked out by hand (rounded); the assertions compare against
the scalar arithmetic itself, at full precision.
"""

import math
import warnings

import numpy as np
import pytest

from skfnn import FNNRegressor, _engine
from skfnn._network import Network
from skfnn.activations import get_activation
from skfnn.losses import SquaredError

# The network used throughout: 2 inputs, 2 hidden units, 1 (or 2) outputs.
W1 = [[0.1, -0.2],
      [0.3, 0.4]]
b1 = [0.05, -0.1]
W2 = [[0.5],
      [-0.6]]
b2 = [0.2]


def _logistic(z):
    return 1.0 / (1.0 + math.exp(-z))


def _theta(W1, b1, W2, b2):
    """Pack as scikit-learn does: vec W^1, vec W^2, b^1, b^2 (row-major)."""
    return np.array([w for row in W1 for w in row] + [w for row in W2 for w in row]
                    + list(b1) + list(b2), dtype=float)


def _layout(n_out):
    return _engine.Layout([2, 2, n_out])


def _net(n_out, sigmas, alpha=0.0):
    """The 2-2-n_out network with these activations, squared error and penalty α."""
    return Network([2, 2, n_out], sigmas, SquaredError(), alpha)


def test_one_sample_logistic_hidden_layer():
    x1, x2, y = 1.0, 2.0, 1.0

    # Forward.
    z1_1 = W1[0][0] * x1 + W1[1][0] * x2 + b1[0]  # 0.1 + 0.6 + 0.05 = 0.75
    z1_2 = W1[0][1] * x1 + W1[1][1] * x2 + b1[1]  # -0.2 + 0.8 - 0.1 = 0.5
    a1_1 = _logistic(z1_1)  # 1 / (1 + e^-0.75) ≈ 0.6791787
    a1_2 = _logistic(z1_2)  # 1 / (1 + e^-0.5)  ≈ 0.6224593
    z2 = W2[0][0] * a1_1 + W2[1][0] * a1_2 + b2[0]  # 0.3395893 - 0.3734756 + 0.2 ≈ 0.1661138
    a2 = z2  # identity output
    J = 0.5 * (a2 - y) ** 2  # ½ (-0.8338862)² ≈ 0.3476831

    # Backward.
    delta2 = (a2 - y) * 1.0  # ∂ℓ/∂a · σ'(z) = a - y ≈ -0.8338862
    delta1_1 = W2[0][0] * delta2 * a1_1 * (1 - a1_1)  # 0.5 · δ² · 0.2178950 ≈ -0.0908498
    delta1_2 = W2[1][0] * delta2 * a1_2 * (1 - a1_2)  # -0.6 · δ² · 0.2350037 ≈ 0.1175798
    dW2 = [[delta2 * a1_1],  # ≈ -0.5663578
           [delta2 * a1_2]]  # ≈ -0.5190603
    db2 = [delta2]
    dW1 = [[delta1_1 * x1, delta1_2 * x1],  # ≈ [-0.0908498, 0.1175798]
           [delta1_1 * x2, delta1_2 * x2]]  # ≈ [-0.1816996, 0.2351596]
    db1 = [delta1_1, delta1_2]

    # The rounded hand numbers, as a check on the arithmetic above.
    np.testing.assert_allclose([z2, J, delta1_1, delta1_2], [0.1661138, 0.3476831, -0.0908498,
                                                            0.1175798], atol=1e-7)

    X, Y = np.array([[x1, x2]]), np.array([[y]])
    sigmas = [get_activation("logistic"), get_activation("identity")]
    theta = _theta(W1, b1, W2, b2)
    Ws, bs = _layout(1).unpack(theta)
    Zs, As, _ = _engine.forward(_net(1, sigmas), X, Ws, bs)
    np.testing.assert_allclose(Zs[1], [[z1_1, z1_2]], rtol=1e-14)
    np.testing.assert_allclose(As[1], [[a1_1, a1_2]], rtol=1e-14)
    np.testing.assert_allclose(Zs[2], [[z2]], rtol=1e-14)
    np.testing.assert_allclose(As[2], [[a2]], rtol=1e-14)

    J_engine, grad = _engine.loss_and_gradient(_net(1, sigmas), theta, X, Y)
    assert J_engine == pytest.approx(J, rel=1e-14)
    np.testing.assert_allclose(grad, _theta(dW1, db1, dW2, db2), rtol=1e-13)


# Two samples with weights s = (1, 3) and an L2 penalty α = 0.1, tanh hidden units.
X2 = [(1.0, 2.0), (-1.0, 0.5)]
Y2 = [1.0, -0.5]
S2 = [1.0, 3.0]
ALPHA = 0.1


def _two_samples_by_hand():
    """J and ∇J = (Σ_i s_i ∂ℓ_i/∂θ + α W) / Σ s, sample by sample."""
    sw_sum = S2[0] + S2[1]  # 4
    data_term = 0.0
    dW1 = [[0.0, 0.0], [0.0, 0.0]]
    db1 = [0.0, 0.0]
    dW2 = [[0.0], [0.0]]
    db2 = [0.0]
    for (x1, x2), y, s in zip(X2, Y2, S2, strict=True):
        # sample 1: z¹ = (0.75, 0.5), a¹ ≈ (0.6351490, 0.4621172), a² ≈ 0.2403042
        # sample 2: z¹ = (0.1, 0.3),  a¹ ≈ (0.0996680, 0.2913126), a² ≈ 0.0750464
        z1 = [W1[0][j] * x1 + W1[1][j] * x2 + b1[j] for j in range(2)]
        a1 = [math.tanh(z) for z in z1]
        a2 = W2[0][0] * a1[0] + W2[1][0] * a1[1] + b2[0]
        data_term += s * 0.5 * (a2 - y) ** 2
        delta2 = a2 - y  # sample 1 ≈ -0.7596958, sample 2 ≈ 0.5750464
        delta1 = [W2[j][0] * delta2 * (1 - a1[j] ** 2) for j in range(2)]  # tanh' = 1 - a²
        for j in range(2):
            dW1[0][j] += s * delta1[j] * x1
            dW1[1][j] += s * delta1[j] * x2
            db1[j] += s * delta1[j]
            dW2[j][0] += s * delta2 * a1[j]
        db2[0] += s * delta2
    sum_sq = sum(w * w for row in W1 + W2 for w in row)  # 0.01+0.04+0.09+0.16+0.25+0.36 = 0.91
    J = data_term / sw_sum + ALPHA / (2 * sw_sum) * sum_sq  # ≈ 0.2075216
    for W, dW in ((W1, dW1), (W2, dW2)):
        for i, row in enumerate(W):
            for j, w in enumerate(row):
                dW[i][j] = (dW[i][j] + ALPHA * w) / sw_sum  # the penalty's gradient α W / Σ s
    db1 = [g / sw_sum for g in db1]
    db2 = [g / sw_sum for g in db2]
    # ∂J/∂b² = (1 · -0.7596958 + 3 · 0.5750464) / 4 ≈ 0.2413609
    np.testing.assert_allclose([J, db2[0]], [0.2075216, 0.2413609], atol=1e-7)
    return J, _theta(dW1, db1, dW2, db2)


def test_two_weighted_samples_with_l2_penalty():
    J, grad_by_hand = _two_samples_by_hand()
    X, Y, s = np.array(X2), np.array(Y2).reshape(-1, 1), np.array(S2)
    sigmas = [get_activation("tanh"), get_activation("identity")]
    J_engine, grad = _engine.loss_and_gradient(_net(1, sigmas, ALPHA), _theta(W1, b1, W2, b2),
                                               X, Y, s)
    assert J_engine == pytest.approx(J, rel=1e-14)
    np.testing.assert_allclose(grad, grad_by_hand, rtol=1e-13)


def test_integer_weights_equal_repeated_samples():
    """s = (1, 3) is the same objective as sample 2 repeated three times."""
    J, grad_by_hand = _two_samples_by_hand()
    X = np.array([X2[0]] + [X2[1]] * 3)
    Y = np.array([Y2[0]] + [Y2[1]] * 3).reshape(-1, 1)
    sigmas = [get_activation("tanh"), get_activation("identity")]
    J_engine, grad = _engine.loss_and_gradient(_net(1, sigmas, ALPHA), _theta(W1, b1, W2, b2),
                                               X, Y)
    assert J_engine == pytest.approx(J, rel=1e-14)
    np.testing.assert_allclose(grad, grad_by_hand, rtol=1e-13)


def _set_weights(est, W1, b1, W2, b2):
    est.coefs_ = [np.array(W1), np.array(W2)]
    est.intercepts_ = [np.array(b1), np.array(b2)]


@pytest.mark.parametrize("how", ["partial_fit", "warm_start_fit"])
def test_estimator_reports_this_J_and_takes_this_gradient_step(how):
    """loss_ is the hand J, and one plain SGD step moves θ by -η ∇J."""
    J, grad_by_hand = _two_samples_by_hand()
    X, y, s = np.array(X2), np.array(Y2), np.array(S2)
    eta = 0.1
    est = FNNRegressor((2,), "tanh", solver="sgd", alpha=ALPHA, batch_size=2, shuffle=False,
                       learning_rate_init=eta, momentum=0.0, max_iter=1, random_state=0,
                       warm_start=(how == "warm_start_fit"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning after one epoch
        est.fit(X, y, sample_weight=s)
        _set_weights(est, W1, b1, W2, b2)
        if how == "partial_fit":
            est.partial_fit(X, y, sample_weight=s)
        else:
            est.fit(X, y, sample_weight=s)
    assert est.loss_ == pytest.approx(J, rel=1e-13)
    after = _theta(W1, b1, W2, b2) - eta * grad_by_hand
    theta = np.concatenate([est.coefs_[0].ravel(), est.coefs_[1].ravel(), est.intercepts_[0],
                            est.intercepts_[1]])
    np.testing.assert_allclose(theta, after, rtol=1e-13)


# Two outputs: W² is 2×2. skfnn's ℓ = ½‖a − y‖² sums over the outputs.
W2_multi = [[0.5, -0.3],
            [-0.6, 0.8]]
b2_multi = [0.2, -0.1]
Y_multi = [(1.0, 0.0), (-0.5, 2.0)]


def test_multi_output_squared_error_sums_over_outputs():
    n = len(X2)
    J = 0.0
    dW1 = [[0.0, 0.0], [0.0, 0.0]]
    db1 = [0.0, 0.0]
    dW2 = [[0.0, 0.0], [0.0, 0.0]]
    db2 = [0.0, 0.0]
    for (x1, x2), y in zip(X2, Y_multi, strict=True):
        a1 = [math.tanh(W1[0][j] * x1 + W1[1][j] * x2 + b1[j]) for j in range(2)]
        a2 = [W2_multi[0][k] * a1[0] + W2_multi[1][k] * a1[1] + b2_multi[k] for k in range(2)]
        # sample 1: a² ≈ (0.2403042, 0.0791490), a² − y ≈ (-0.7596958, 0.0791490)
        # sample 2: a² ≈ (0.0750464, 0.1031497), a² − y ≈ (0.5750464, -1.8968503)
        J += 0.5 * ((a2[0] - y[0]) ** 2 + (a2[1] - y[1]) ** 2) / n  # summed over k, mean over i
        delta2 = [a2[k] - y[k] for k in range(2)]
        delta1 = [(W2_multi[j][0] * delta2[0] + W2_multi[j][1] * delta2[1]) * (1 - a1[j] ** 2)
                  for j in range(2)]
        for j in range(2):
            for k in range(2):
                dW2[j][k] += delta2[k] * a1[j] / n
            dW1[0][j] += delta1[j] * x1 / n
            dW1[1][j] += delta1[j] * x2 / n
            db1[j] += delta1[j] / n
        for k in range(2):
            db2[k] += delta2[k] / n
    # J = ½ (½ (0.7596958² + 0.0791490²) + ½ (0.5750464² + 1.8968503²)) ≈ 1.1280304;
    # scikit-learn's squared_loss, a mean over the 2 outputs too, would be half: ≈ 0.5640152.
    assert J == pytest.approx(1.1280304, abs=1e-7)

    X, Y = np.array(X2), np.array(Y_multi)
    sigmas = [get_activation("tanh"), get_activation("identity")]
    theta = _theta(W1, b1, W2_multi, b2_multi)
    J_engine, grad = _engine.loss_and_gradient(_net(2, sigmas), theta, X, Y)
    assert J_engine == pytest.approx(J, rel=1e-14)
    assert J_engine != pytest.approx(J / 2, rel=1e-3)  # not the mean over outputs
    grad_by_hand = _theta(dW1, db1, dW2, db2)
    np.testing.assert_allclose(grad, grad_by_hand, rtol=1e-13)

    # And that gradient is the gradient of this J (summed over outputs), not of J / 2.
    def J_of(t):
        Ws, bs = _layout(2).unpack(t)
        A1 = np.tanh(X @ Ws[0] + bs[0])
        A2 = A1 @ Ws[1] + bs[1]
        return 0.5 * ((A2 - Y) ** 2).sum() / n

    h = 1e-6
    fd = np.array([(J_of(theta + h * e) - J_of(theta - h * e)) / (2 * h)
                   for e in np.eye(theta.size)])
    np.testing.assert_allclose(grad, fd, rtol=1e-7, atol=1e-10)


def test_multi_output_estimator_loss_is_the_summed_J():
    X, Y = np.array(X2), np.array(Y_multi)
    est = FNNRegressor((2,), "tanh", solver="sgd", alpha=0.0, batch_size=2, shuffle=False,
                       learning_rate_init=0.1, momentum=0.0, max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, Y)
        _set_weights(est, W1, b1, W2_multi, b2_multi)
        est.partial_fit(X, Y)
    # ½ mean_i Σ_k (a_ik − y_ik)² at the hand weights (see the test above).
    assert est.loss_ == pytest.approx(1.1280304, abs=1e-7)

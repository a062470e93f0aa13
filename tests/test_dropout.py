"""Dropout: the masks drawn in the documented order, a training step redone by hand
with them, gradients against finite differences with fixed masks, and dropout
against overfitting."""


import numpy as np
import pytest
from helpers import X_IRIS, XR, Y_IRIS, YR, hidden_output, quiet
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_classification
from sklearn.metrics import log_loss

from skfnn import FNNClassifier, FNNRegressor, _engine, check_gradients
from skfnn._network import Network
from skfnn.activations import get_activation
from skfnn.losses import SquaredError

# ----------------------------------------------------------------------
# Dropout
# ----------------------------------------------------------------------


def test_dropout_zero_is_the_model_without_dropout():
    params = dict(hidden_layer_sizes=(8, 6), max_iter=5, random_state=0)
    plain = quiet(FNNRegressor(**params).fit, XR, YR)
    zero = quiet(FNNRegressor(dropout=[0.0, 0.0], **params).fit, XR, YR)
    for p, q in zip(plain.coefs_ + plain.intercepts_, zero.coefs_ + zero.intercepts_, strict=True):
        assert_array_equal(p, q)


def test_one_dropout_step_redone_by_hand_with_the_documented_draws():
    """Masks come from the estimator's RandomState after the initial weights (and after
    each epoch's shuffle), one uniform per row and unit, hidden layer 1 first."""
    p1, p2, lr = 0.5, 0.2, 0.1
    est = FNNRegressor((6, 4), activation="tanh", solver="sgd", momentum=0.0,
                       learning_rate_init=lr, batch_size=len(YR), shuffle=False, max_iter=1,
                       alpha=0.0, dropout=[p1, p2], random_state=7)
    quiet(est.fit, XR, YR)
    rng = np.random.RandomState(7)
    Ws, bs = [], []
    for fan_in, fan_out in [(5, 6), (6, 4), (4, 1)]:  # scikit-learn's Glorot draws
        bound = np.sqrt(6 / (fan_in + fan_out))
        Ws.append(rng.uniform(-bound, bound, (fan_in, fan_out)))
        bs.append(rng.uniform(-bound, bound, fan_out))
    M1 = (rng.random_sample((len(YR), 6)) >= p1) / (1 - p1)
    M2 = (rng.random_sample((len(YR), 4)) >= p2) / (1 - p2)
    # The step by hand: forward with Ã = A ⊙ M, δ-backprop through the masks.
    A1 = np.tanh(XR @ Ws[0] + bs[0])
    D1 = A1 * M1
    A2 = np.tanh(D1 @ Ws[1] + bs[1])
    D2 = A2 * M2
    out = D2 @ Ws[2] + bs[2]
    n = len(YR)
    d3 = (out - YR[:, None]) / n
    d2 = (d3 @ Ws[2].T) * M2 * (1 - A2**2)
    d1 = (d2 @ Ws[1].T) * M1 * (1 - A1**2)
    grads_W = [XR.T @ d1, D1.T @ d2, D2.T @ d3]
    grads_b = [d1.sum(0), d2.sum(0), d3.sum(0)]
    for W, g, fitted in zip(Ws, grads_W, est.coefs_, strict=True):
        assert_allclose(fitted, W - lr * g, rtol=1e-10, atol=1e-12)
    for b, g, fitted in zip(bs, grads_b, est.intercepts_, strict=True):
        assert_allclose(fitted, b - lr * g, rtol=1e-10, atol=1e-12)


def test_dropout_fits_are_reproducible_and_predictions_deterministic():
    params = dict(hidden_layer_sizes=(16,), dropout=0.3, max_iter=10, random_state=0)
    a = quiet(FNNRegressor(**params).fit, XR, YR)
    b = quiet(FNNRegressor(**params).fit, XR, YR)
    c = quiet(FNNRegressor(**{**params, "random_state": 1}).fit, XR, YR)
    assert_array_equal(a.coefs_[0], b.coefs_[0])
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])
    # Prediction runs the whole network, unscaled (inverted dropout): no masks.
    assert_array_equal(a.predict(XR), a.predict(XR))
    assert_allclose(a.predict(XR), hidden_output(a, XR).ravel(), rtol=1e-12)


def test_the_validation_score_of_a_dropout_fit_is_the_plain_networks():
    X_train, y_train, X_val, y_val = X_IRIS[::2], Y_IRIS[::2], X_IRIS[1::2], Y_IRIS[1::2]
    clf = quiet(FNNClassifier((16,), dropout=0.5, early_stopping=True, n_iter_no_change=3,
                              max_iter=100, random_state=0).fit, X_train, y_train,
                X_val=X_val, y_val=y_val)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    # Scored without masks: the restored model's own score on the validation rows.
    assert clf.score(X_val, y_val) == clf.best_validation_score_


def test_dropout_regularises_a_wide_network():
    """200 noisy samples, 40 features, 256 hidden units: without dropout the network
    memorises the training set and is overconfident on new data."""
    X, y = make_classification(n_samples=600, n_features=40, n_informative=5, flip_y=0.05,
                               random_state=0)
    test_loss = {}
    for rate in (0.0, 0.5):
        clf = quiet(FNNClassifier((256,), dropout=rate, alpha=0.0, max_iter=200,
                                  random_state=0).fit, X[:200], y[:200])
        test_loss[rate] = log_loss(y[200:], clf.predict_proba(X[200:]))
        assert clf.score(X[:200], y[:200]) == 1.0
    assert test_loss[0.5] < test_loss[0.0] - 0.05


@pytest.mark.parametrize("bad, match", [
    (dict(solver="lbfgs", dropout=0.2), "dropout needs a stochastic solver"),
    (dict(dropout=[0.1, 0.2]), "dropout has 2 entries but there is 1 hidden layer"),
    (dict(dropout=[1.5]), r"rates must lie in \[0, 1\)"),
])
def test_bad_dropout_gets_a_clear_error(bad, match):
    with pytest.raises(ValueError, match=match):
        FNNRegressor((4,), **bad).fit(XR, YR)


def test_dropout_one_is_refused_by_parameter_validation():
    with pytest.raises(ValueError, match="dropout"):
        FNNRegressor((4,), dropout=1.0).fit(XR, YR)


def test_check_gradients_holds_the_dropout_masks_fixed():
    est = FNNClassifier((6, 5), activation="tanh", dropout=[0.3, 0.5], random_state=0)
    result = check_gradients(est, X_IRIS[::5], Y_IRIS[::5], raise_on_failure=True)
    assert result.dropout == (0.3, 0.5)
    assert "masks held fixed" in str(result)
    # Without the fixed masks the backprop gradient would not be the plain network's.
    plain = check_gradients(FNNClassifier((6, 5), activation="tanh", random_state=0),
                            X_IRIS[::5], Y_IRIS[::5])
    assert result.dropout is not None and plain.dropout is None
    assert not np.allclose(result.gradient, plain.gradient)


def test_the_engine_with_masks_equals_the_masked_forward_of_the_reference():
    units = [4, 5, 3, 2]
    net = Network(units, [get_activation("relu")] * 2 + [get_activation("identity")],
                  SquaredError(), dropout=[0.4, 0.0])
    rng = np.random.RandomState(0)
    X, _ = rng.randn(10, 4), rng.randn(10, 2)  # (the second draw keeps θ's stream)
    theta = net.initial_theta(rng, np.float64)
    masks = net.draw_masks(np.random.RandomState(1), 10, np.float64)
    assert masks[2] is None  # p = 0: no mask, no draw
    Zs, As, inputs = _engine.forward(net, X, *net.layout.unpack(theta), masks=masks)
    assert_array_equal(inputs[1], As[1] * masks[1])
    assert inputs[2] is As[2]



"""Beyond scikit-learn's model: any loss with softmax, one-vs-rest outputs, dropout, init.

Checked against independent computations: probabilities recomputed from
``coefs_`` with numpy, a training step redone by hand with the masks the
documented order of draws gives, and the statistics of each initialisation
scheme against its formula.
"""

import warnings
from unittest import mock

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit, softmax
from sklearn.datasets import load_iris, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss
from sklearn.preprocessing import StandardScaler

from skfnn import FNNClassifier, FNNRegressor, _engine, _fitting, check_gradients, check_loss
from skfnn._network import Network
from skfnn.activations import Softmax, get_activation
from skfnn.losses import SquaredError

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_IRIS = StandardScaler().fit_transform(X_IRIS)


def quiet(fit, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit(*args, **kwargs)


def hidden_output(est, X):
    """The last hidden layer's activations, for relu hidden layers."""
    A = X
    for W, b in zip(est.coefs_[:-1], est.intercepts_[:-1], strict=True):
        A = np.maximum(A @ W + b, 0)
    return A @ est.coefs_[-1] + est.intercepts_[-1]


# ----------------------------------------------------------------------
# Any loss with softmax; one-vs-rest
# ----------------------------------------------------------------------
@pytest.mark.parametrize("loss", ["squared_error", "absolute_error", "huber"])
def test_a_multiclass_classifier_trains_with_any_loss_through_softmax(loss):
    clf = quiet(FNNClassifier((10,), loss=loss, solver="lbfgs", max_iter=300,
                              random_state=0).fit, X_IRIS, Y_IRIS)
    assert clf.out_activation_ == "softmax"
    proba = clf.predict_proba(X_IRIS)
    assert_allclose(proba, softmax(hidden_output(clf, X_IRIS), axis=1), rtol=1e-12)
    assert clf.score(X_IRIS, Y_IRIS) > 0.9
    assert check_gradients(clf, X_IRIS[::10], Y_IRIS[::10]).passed


def test_check_loss_verifies_delta_through_the_softmax_jacobian():
    for loss in ("squared_error", "absolute_error", "huber", "poisson"):
        assert check_loss(loss, activation="softmax").passed

    class BadSoftmax(Softmax):
        """vjp forgets the ⟨g, a⟩ term."""

        def vjp(self, z, a, g):
            return a * g

    result = check_loss("squared_error", activation=BadSoftmax(), raise_on_failure=False)
    assert not result.passed
    assert "delta of SquaredError with BadSoftmax" in result.problems[0]


def test_one_vs_rest_logistic_outputs_are_normalised_probabilities():
    clf = quiet(FNNClassifier((10,), out_activation="logistic", solver="lbfgs", max_iter=300,
                              random_state=0).fit, X_IRIS, Y_IRIS)
    p = expit(hidden_output(clf, X_IRIS))  # one logistic unit per class
    proba = clf.predict_proba(X_IRIS)
    assert_allclose(proba, p / p.sum(axis=1, keepdims=True), rtol=1e-12)
    assert_allclose(np.exp(clf.predict_log_proba(X_IRIS)), proba, rtol=1e-12)
    assert_array_equal(clf.predict(X_IRIS), clf.classes_[np.argmax(p, axis=1)])
    assert clf.score(X_IRIS, Y_IRIS) > 0.9
    # Trained with the per-unit (binary) log-loss: each unit its own Bernoulli variable.
    assert type(clf._net.loss).__name__ == "BinaryLogLoss"


def test_a_non_elementwise_output_without_vjp_is_refused():
    class Pairwise:
        elementwise = False
        output_range = (0.0, 1.0)

        def forward(self, z):
            return softmax(z, axis=1)

        def derivative(self, z, a):
            raise NotImplementedError

    with pytest.raises(ValueError, match=r"not elementwise.*vjp\(z, a, g\)"):
        FNNClassifier((4,), out_activation=Pairwise(), max_iter=2).fit(X_IRIS, Y_IRIS)


def test_softmax_still_needs_a_multiclass_target():
    with pytest.raises(ValueError, match="softmax.*multiclass"):
        FNNClassifier((4,), out_activation="softmax").fit(X_IRIS, Y_IRIS == 1)


# ----------------------------------------------------------------------
# Dropout
# ----------------------------------------------------------------------
XR, YR = make_regression(n_samples=120, n_features=5, noise=5.0, random_state=0)
YR = YR / YR.std()


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


# ----------------------------------------------------------------------
# Weight initialisation
# ----------------------------------------------------------------------
def initial_weights(est, X, y):
    """The weights fit starts from (the training loop replaced by a no-op)."""
    with mock.patch.object(_fitting, "train", lambda *args, **kwargs: None):
        est.fit(X, y)
    return est.coefs_, est.intercepts_


WIDE = np.random.RandomState(0).randn(20, 800)


@pytest.mark.parametrize("init, std_of, bound_of", [
    ("glorot_normal", lambda i, o: np.sqrt(2 / (i + o)), None),
    ("he_uniform", lambda i, o: np.sqrt(6 / i) / np.sqrt(3), lambda i, o: np.sqrt(6 / i)),
    ("he_normal", lambda i, o: np.sqrt(2 / i), None),
    ("lecun_normal", lambda i, o: np.sqrt(1 / i), None),
    ("glorot_uniform", lambda i, o: np.sqrt(6 / (i + o)) / np.sqrt(3),
     lambda i, o: np.sqrt(6 / (i + o))),
])
def test_each_scheme_has_the_statistics_of_its_formula(init, std_of, bound_of):
    coefs, intercepts = initial_weights(FNNRegressor((600,), init=init, random_state=0),
                                        WIDE, WIDE[:, 0])
    W = coefs[0]  # 800 × 600: 480,000 draws
    assert abs(W.mean()) < 3 * std_of(800, 600) / np.sqrt(W.size)
    assert W.std() == pytest.approx(std_of(800, 600), rel=0.01)
    if bound_of is not None:
        assert np.abs(W).max() <= bound_of(800, 600)
    if init == "glorot_uniform":  # scikit-learn's: uniform biases too
        assert np.abs(intercepts[0]).max() > 0
    else:
        assert all(not b.any() for b in intercepts)


def test_orthogonal_weights_have_orthonormal_columns_or_rows():
    coefs, _ = initial_weights(FNNRegressor((300, 900), init="orthogonal", random_state=0),
                               WIDE, WIDE[:, 0])
    tall, wide = coefs[0], coefs[1]  # 800 × 300, 300 × 900
    assert_allclose(tall.T @ tall, np.eye(300), atol=1e-10)
    assert_allclose(wide @ wide.T, np.eye(300), atol=1e-10)


def test_a_callable_init_sees_the_documented_arguments_and_its_weights_are_used():
    calls = []

    def init(fan_in, fan_out, random_state, dtype):
        calls.append((fan_in, fan_out, random_state, dtype))
        return np.full((fan_in, fan_out), 0.01 * len(calls))

    est = FNNClassifier((5, 4), init=init, random_state=np.random.RandomState(3))
    coefs, intercepts = initial_weights(est, X_IRIS.astype(np.float32), Y_IRIS)
    assert [c[:2] for c in calls] == [(4, 5), (5, 4), (4, 3)]
    assert all(c[2] is calls[0][2] and isinstance(c[2], np.random.RandomState) for c in calls)
    assert all(c[3] == np.float32 for c in calls)
    for k, W in enumerate(coefs, start=1):
        assert W.dtype == np.float32 and np.all(W == np.float32(0.01 * k))
    assert all(not b.any() for b in intercepts)


def test_a_callable_returning_the_wrong_shape_is_named():
    with pytest.raises(ValueError, match=r"returned W of shape \(5, 4\).*fan_in=4, fan_out=5"):
        FNNRegressor((5,), init=lambda i, o, rs, dt: np.zeros((o, i))).fit(XR[:, :4], YR)


def test_init_is_reproducible_and_trains():
    params = dict(hidden_layer_sizes=(8,), init="he_normal", solver="lbfgs", max_iter=200,
                  random_state=0)
    a = quiet(FNNRegressor(**params).fit, XR, YR)
    b = quiet(FNNRegressor(**params).fit, XR, YR)
    assert_array_equal(a.coefs_[0], b.coefs_[0])
    assert a.score(XR, YR) > 0.9

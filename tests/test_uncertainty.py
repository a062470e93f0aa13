"""Predictive uncertainty: the Gaussian mean–variance head, quantile heads, Gamma and Tweedie.

The yardsticks are independent of the code under test: data whose conditional
distribution is known (y = sin x + σ(x) ε, σ(x) = 0.1 + 0.3 |x|), scipy.stats'
log-densities, scikit-learn's deviances, hand-worked values and central
finite differences.

Coverage is measured on 4,000 held-out points: the binomial standard error of a
95 % interval's coverage is then 0.34 points, so the 92–98 % band is ±9 standard
errors of sampling noise wide, and what it tests is the model's calibration. The
fits use L-BFGS (deterministic for a seed); across seeds 0–2 and the network
sizes tried the coverage stayed within 94.1–94.6 %.
"""

import pickle
import warnings

import numpy as np
import pytest
from helpers import docs_figure_script, run_script
from numpy.testing import assert_allclose
from scipy import stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import mean_gamma_deviance, mean_tweedie_deviance, r2_score

from skfnn import FNNClassifier, FNNRegressor, _engine, check_gradients, check_loss
from skfnn.losses import GammaLoss, GaussianNLLLoss, QuantileLoss, TweedieLoss

Z_975 = stats.norm.ppf(0.975)


def sigma(x):
    return 0.1 + 0.3 * np.abs(x)


def heteroscedastic(n, seed):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-3, 3, (n, 1))
    return X, np.sin(X[:, 0]) + sigma(X[:, 0]) * rng.standard_normal(n)


TRAIN, TEST = heteroscedastic(3000, 0), heteroscedastic(4000, 1)
FIT = dict(hidden_layer_sizes=(16, 16), activation="tanh", solver="lbfgs", max_iter=200,
           random_state=0)


@pytest.fixture(scope="module")
def gaussian():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return FNNRegressor(loss="gaussian_nll", **FIT).fit(*TRAIN)


@pytest.fixture(scope="module")
def quantiles():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return FNNRegressor(loss="quantile", quantile=[0.05, 0.5, 0.95], **FIT).fit(*TRAIN)


# ----------------------------------------------------------------------------
# The Gaussian head on data with a known σ(x)
# ----------------------------------------------------------------------------
def test_the_predicted_std_tracks_the_true_sigma(gaussian):
    X, _ = TEST
    mean, std = gaussian.predict(X, return_std=True)
    assert mean.shape == std.shape == (X.shape[0],)
    assert stats.spearmanr(std, sigma(X[:, 0]))[0] > 0.95
    # and its size, not only its ranking: within 15 % of σ(x) on average
    assert np.median(np.abs(std / sigma(X[:, 0]) - 1)) < 0.15


def test_95_percent_intervals_cover_92_to_98_percent_of_held_out_points(gaussian):
    X, y = TEST
    mean, std = gaussian.predict(X, return_std=True)
    coverage = np.mean(np.abs(y - mean) <= Z_975 * std)
    assert 0.92 <= coverage <= 0.98


def test_predict_and_score_of_the_gaussian_head_are_the_mean(gaussian):
    X, y = TEST
    W, b = gaussian.coefs_, gaussian.intercepts_
    outputs = np.tanh(np.tanh(X @ W[0] + b[0]) @ W[1] + b[1]) @ W[2] + b[2]
    assert gaussian.n_outputs_ == 2  # the width of the output layer: μ and s
    assert_allclose(gaussian.predict(X), outputs[:, 0], rtol=1e-12)
    softplus = np.log1p(np.exp(outputs[:, 1]))
    assert_allclose(gaussian.predict(X, return_std=True)[1], np.sqrt(softplus + 1e-6),
                    rtol=1e-12)
    assert gaussian.score(X, y) == pytest.approx(r2_score(y, outputs[:, 0]), rel=1e-12)


def test_several_targets_get_one_mean_and_one_std_each():
    rng = np.random.RandomState(0)
    X = rng.uniform(-3, 3, (1500, 1))
    sigmas = np.c_[sigma(X[:, 0]), 0.1 + 0.3 * (3 - np.abs(X[:, 0]))]  # rising, falling
    y = np.c_[np.sin(X[:, 0]), np.cos(X[:, 0])] + sigmas * rng.standard_normal((1500, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = FNNRegressor(loss="gaussian_nll", **FIT).fit(X, y)
    mean, std = est.predict(X, return_std=True)
    assert est.n_outputs_ == 4 and mean.shape == std.shape == (1500, 2)
    for k in range(2):  # each target's std follows its own σ
        assert stats.spearmanr(std[:, k], sigmas[:, k])[0] > 0.9


# ----------------------------------------------------------------------------
# Quantile heads
# ----------------------------------------------------------------------------
def test_each_quantile_covers_its_nominal_level_on_held_out_points(quantiles):
    X, y = TEST
    P = quantiles.predict(X)
    assert P.shape == (X.shape[0], 3) and quantiles.n_outputs_ == 3
    for q, column in zip([0.05, 0.5, 0.95], P.T, strict=True):
        assert abs(np.mean(y <= column) - q) < 0.025
    # the 90 % interval between the outer quantiles, and the true quantiles' width
    assert abs(np.mean((P[:, 0] <= y) & (y <= P[:, 2])) - 0.90) < 0.03
    true_width = 2 * stats.norm.ppf(0.95) * sigma(X[:, 0])
    assert np.mean(P[:, 2] - P[:, 0]) == pytest.approx(np.mean(true_width), rel=0.1)


def test_the_score_of_a_quantile_head_is_the_r2_of_the_median(quantiles):
    X, y = TEST
    assert quantiles.score(X, y) == pytest.approx(r2_score(y, quantiles.predict(X)[:, 1]))


def test_several_targets_give_quantile_major_columns():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, (600, 2))
    y = np.c_[10 + X[:, 0], -10 + X[:, 1]] + 0.1 * rng.standard_normal((600, 2))
    est = FNNRegressor((8,), loss="quantile", quantile=[0.1, 0.9], solver="lbfgs",
                       max_iter=300, random_state=0).fit(X, y)
    P = est.predict(X)
    assert P.shape == (600, 4)
    # columns: q=0.1 of target 0, of target 1, then q=0.9 of target 0, of target 1
    assert np.all(np.abs(P[:, [0, 2]] - 10) < 2) and np.all(np.abs(P[:, [1, 3]] + 10) < 2)
    assert np.mean(P[:, 0] < P[:, 2]) > 0.95 and np.mean(P[:, 1] < P[:, 3]) > 0.95


def test_a_single_quantile_predicts_one_column_like_any_regressor():
    X, y = TRAIN
    est = FNNRegressor((8,), loss="quantile", quantile=0.9, solver="lbfgs", max_iter=200,
                       random_state=0).fit(X, y)
    assert est.predict(X).shape == (X.shape[0],)
    assert abs(np.mean(y <= est.predict(X)) - 0.9) < 0.03


@pytest.mark.parametrize("quantile", [0.0, 1.0, 1.5, [0.1, 1.2], [], [0.2, 0.2], "median",
                                      [[0.1, 0.9]], np.array([[0.5]])])
def test_a_bad_quantile_is_refused_with_its_name(quantile):
    X, y = TRAIN
    with pytest.raises((ValueError, TypeError), match="quantile"):
        FNNRegressor(loss="quantile", quantile=quantile).fit(X[:20], y[:20])


def test_quantile_with_another_loss_is_an_error_not_ignored():
    X, y = TRAIN
    with pytest.raises(ValueError, match="quantile=0.9 is only used by loss='quantile'"):
        FNNRegressor(quantile=0.9).fit(X[:20], y[:20])


def test_loss_quantile_without_quantile_is_the_median():
    assert FNNRegressor(loss="quantile")._get_loss() == QuantileLoss(0.5)


# ----------------------------------------------------------------------------
# Gamma and Tweedie
# ----------------------------------------------------------------------------
def gamma_data(n, seed, shape=4.0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, (n, 2))
    mu = np.exp(0.8 * X[:, 0] - 0.5 * X[:, 1] ** 2)
    return X, rng.gamma(shape, mu / shape)


def test_the_gamma_fit_beats_a_constant_model_in_deviance():
    (X, y), (X_test, y_test) = gamma_data(1500, 0), gamma_data(2000, 1)
    est = FNNRegressor((8,), loss="gamma", solver="lbfgs", max_iter=300, alpha=0.0,
                       random_state=0).fit(X, y)
    assert est.out_activation_ == "exp"
    prediction = est.predict(X_test)
    fitted = mean_gamma_deviance(y_test, prediction)
    constant = mean_gamma_deviance(y_test, np.full_like(y_test, y.mean()))
    assert fitted < 0.8 * constant
    # its loss (α = 0) is half the deviance
    assert est.loss_ == pytest.approx(mean_gamma_deviance(y, est.predict(X)) / 2, rel=1e-6)


def test_a_tweedie_fit_with_zeros_beats_a_constant_model_in_deviance():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, (3000, 2))
    mu = np.exp(X[:, 0])
    counts = rng.poisson(mu)
    y = np.array([rng.gamma(2.0, 0.5, c).sum() for c in counts])  # compound Poisson–Gamma
    assert np.mean(y == 0) > 0.2
    est = FNNRegressor((8,), loss=TweedieLoss(power=1.4), solver="lbfgs", max_iter=300,
                       random_state=0).fit(X[:2000], y[:2000])
    fitted = mean_tweedie_deviance(y[2000:], est.predict(X[2000:]), power=1.4)
    constant = mean_tweedie_deviance(y[2000:], np.full(1000, y[:2000].mean()), power=1.4)
    truth = mean_tweedie_deviance(y[2000:], mu[2000:], power=1.4)  # the true mean's
    # the noise leaves little to gain: the fit closes most of the gap to the truth
    assert fitted < constant and (fitted - truth) < 0.1 * (constant - truth)


def test_targets_outside_the_domain_are_refused():
    X = np.zeros((3, 1))
    with pytest.raises(ValueError, match="zero or negative.*gamma"):
        FNNRegressor(loss="gamma").fit(X, [1.0, 0.0, 2.0])
    with pytest.raises(ValueError, match="negative.*tweedie"):
        FNNRegressor(loss="tweedie").fit(X, [1.0, -0.5, 0.0])
    FNNRegressor(loss="tweedie", max_iter=2).fit(X, [1.0, 0.0, 0.0])  # zeros are fine


@pytest.mark.parametrize("power", [1.0, 2.0, 0.5, 3, "1.5"])
def test_a_tweedie_power_outside_1_to_2_is_refused(power):
    with pytest.raises(ValueError, match="1 < p < 2"):
        TweedieLoss(power=power)


@pytest.mark.parametrize("min_variance", [-1.0, float("nan"), float("inf"), None, "1e-6", True])
def test_a_bad_min_variance_is_refused_by_name(min_variance):
    # Before: a negative or NaN floor diverged at the first step ("learning_rate_init may be
    # too large"), a string or None failed deep in numpy with a UFuncTypeError/TypeError.
    with pytest.raises(ValueError, match="min_variance"):
        GaussianNLLLoss(min_variance=min_variance)


# ----------------------------------------------------------------------------
# The loss values against scipy.stats, scikit-learn and hand-worked examples
# ----------------------------------------------------------------------------
def test_the_gaussian_nll_is_minus_scipys_normal_log_density():
    rng = np.random.RandomState(0)
    y, mu, s = rng.standard_normal((3, 50, 2))
    v = np.log1p(np.exp(s)) + 1e-6
    expected = -stats.norm.logpdf(y, mu, np.sqrt(v)).sum(axis=1)
    loss = GaussianNLLLoss()
    assert_allclose(loss.per_sample(y, np.c_[mu, s]), expected, rtol=1e-12)
    w = rng.uniform(0.5, 2.0, 50)
    assert float(loss(y, np.c_[mu, s], w)) == pytest.approx(np.average(expected, weights=w))


def test_the_gaussian_nll_by_hand():
    # y = 1, μ = 0, softplus(s) = 1 (s = log(e − 1)), no floor: ½ log 2π + ½
    a = np.array([[0.0, np.log(np.e - 1)]])
    value = GaussianNLLLoss(min_variance=0.0)(np.array([[1.0]]), a)
    assert float(value) == pytest.approx(0.5 * np.log(2 * np.pi) + 0.5, rel=1e-14)


def test_the_variance_floor_keeps_the_loss_finite():
    loss = GaussianNLLLoss(min_variance=1e-6)
    y, a = np.array([[1.0]]), np.array([[0.0, -800.0]])  # softplus(−800) underflows to 0
    value = float(loss(y, a))
    assert np.isfinite(value)
    assert value == pytest.approx(0.5 * np.log(2 * np.pi * 1e-6) + 0.5 / 1e-6)
    assert np.all(np.isfinite(loss.gradient(y, a)))
    assert np.isfinite(float(loss(y, np.array([[0.0, 800.0]]))))  # no exp to overflow


def test_the_pinball_loss_by_hand():
    loss = QuantileLoss([0.9, 0.1])
    y = np.array([[1.0], [1.0]])
    a = np.array([[0.0, 0.0], [2.0, 2.0]])  # below y: τ r; above y: (1 − τ) |r|
    assert_allclose(loss.per_sample(y, a), [0.9 + 0.1, 0.1 + 0.9], rtol=1e-15)
    assert_allclose(loss.gradient(y, a), [[-0.9, -0.1], [0.1, 0.9]], rtol=1e-15)


def test_the_pinball_loss_is_half_scikit_learns_pinball_loss_times_two():
    from sklearn.metrics import mean_pinball_loss

    rng = np.random.RandomState(0)
    y, a = rng.standard_normal((2, 40, 1))
    for q in (0.1, 0.5, 0.8):
        assert float(QuantileLoss(q)(y, a)) == pytest.approx(
            mean_pinball_loss(y, a, alpha=q), rel=1e-12)


def test_the_gamma_loss_against_scipys_gamma_log_density():
    # With shape k and mean μ: −log p(y) = k (y/μ + log μ) + terms free of μ, so
    # ℓ(y, μ) = [log p(y; mean y) − log p(y; mean μ)] / k for every k.
    rng = np.random.RandomState(0)
    y, mu = rng.gamma(2.0, 1.0, (2, 30, 1))
    for k in (0.5, 3.0):
        expected = (stats.gamma.logpdf(y, k, scale=y / k)
                    - stats.gamma.logpdf(y, k, scale=mu / k)) / k
        assert_allclose(GammaLoss().per_sample(y, mu), expected[:, 0], rtol=1e-10)
    assert float(GammaLoss()(y, mu)) == pytest.approx(mean_gamma_deviance(y, mu) / 2)


@pytest.mark.parametrize("power", [1.2, 1.5, 1.9])
def test_the_tweedie_loss_is_half_scikit_learns_deviance(power):
    rng = np.random.RandomState(0)
    y = np.where(rng.uniform(size=(40, 1)) < 0.3, 0.0, rng.gamma(2.0, 1.0, (40, 1)))
    mu = rng.gamma(2.0, 1.0, (40, 1))
    w = rng.uniform(0.5, 2.0, 40)
    assert float(TweedieLoss(power)(y, mu, w)) == pytest.approx(
        mean_tweedie_deviance(y[:, 0], mu[:, 0], sample_weight=w, power=power) / 2)
    # the unit deviance by hand at y = 0: 2 μ^{2−p} / (2 − p), halved
    assert float(TweedieLoss(power)(np.zeros((1, 1)), np.array([[2.0]]))) == pytest.approx(
        2.0 ** (2 - power) / (2 - power))


# ----------------------------------------------------------------------------
# Gradients against central finite differences
# ----------------------------------------------------------------------------
NEW_LOSSES = [GaussianNLLLoss(), QuantileLoss(0.3), QuantileLoss([0.1, 0.5, 0.9]),
              GammaLoss(), TweedieLoss(1.3), TweedieLoss(1.7)]


@pytest.mark.parametrize("loss", NEW_LOSSES, ids=repr)
def test_check_loss_passes_for_every_new_loss(loss):
    result = check_loss(loss, activation=["identity", "softplus", "exp", "tanh"])
    assert result.passed and result.max_error < 1e-7


def test_check_loss_skips_the_pinball_kink_and_counts_it():
    y = np.array([[0.0], [1.0]])
    z = np.array([[0.0, 0.5], [1.0, 0.3]])  # a − y = 0 for the first quantile's rows
    result = check_loss(QuantileLoss([0.2, 0.8]), y=y, z=z, activation="identity")
    assert result.passed and result.n_skipped >= 2


class MissingSigmoid(GaussianNLLLoss):
    """Forgets softplus' derivative σ(s) in ∂ℓ/∂s."""

    def gradient(self, y, a):
        g = super().gradient(y, a)
        k = y.shape[1]
        s = a[:, k:]
        g[:, k:] /= 1 / (1 + np.exp(-s))
        return g


def test_a_wrong_variance_gradient_fails_the_checks():
    result = check_loss(MissingSigmoid(), raise_on_failure=False)
    assert not result.passed and "gradient of MissingSigmoid" in result.problems[0]
    rng = np.random.RandomState(0)
    X, y = rng.standard_normal((20, 3)), rng.standard_normal(20)
    assert not check_gradients(FNNRegressor((5,), loss=MissingSigmoid()), X, y,
                               raise_on_failure=False).passed


@pytest.mark.parametrize("loss, kwargs", [
    ("gaussian_nll", {}), ("quantile", {"quantile": [0.1, 0.5, 0.9]}),
    ("gamma", {}), ("tweedie", {}), ("gamma", {"out_activation": "softplus"}),
])
@pytest.mark.parametrize("activation", ["tanh", "relu", "softplus"])
def test_check_gradients_of_every_new_pairing(loss, kwargs, activation):
    rng = np.random.RandomState(0)
    X = 0.3 * rng.standard_normal((20, 3))
    y = rng.gamma(2.0, 1.0, (20, 2)) if loss in ("gamma", "tweedie") else rng.standard_normal(
        (20, 2))
    est = FNNRegressor((5, 4), activation=activation, loss=loss, alpha=0.1, **kwargs)
    result = check_gradients(est, X, y, sample_weight=rng.uniform(0.5, 2.0, 20))
    assert result.passed, str(result)


def test_a_classifier_refuses_a_head_loss():
    with pytest.raises(ValueError, match="2 network outputs per target.*FNNRegressor"):
        FNNClassifier(loss="gaussian_nll").fit(np.zeros((4, 1)), [0, 1, 0, 1])


def test_return_std_needs_a_distribution():
    X, y = TRAIN
    est = FNNRegressor((4,), max_iter=2).fit(X[:50], y[:50])
    with pytest.raises(ValueError, match="return_std=True needs .*gaussian_nll"):
        est.predict(X, return_std=True)


# ----------------------------------------------------------------------------
# Everything else that works for the other losses
# ----------------------------------------------------------------------------
def test_sample_weights_are_repeated_rows():
    rng = np.random.RandomState(0)
    X, y = rng.standard_normal((30, 2)), rng.standard_normal((30, 1))
    w = rng.randint(1, 4, 30)
    for loss in (GaussianNLLLoss(), QuantileLoss([0.2, 0.7])):
        est = FNNRegressor((5,), loss=loss, max_iter=1).fit(X, y[:, 0])
        net, theta = est._net, est._theta
        J_w, g_w = _engine.loss_and_gradient(net, theta, X, y, w.astype(float))
        J_r, g_r = _engine.loss_and_gradient(net, theta, np.repeat(X, w, 0), np.repeat(y, w, 0))
        assert J_w == pytest.approx(J_r, rel=1e-12)
        assert_allclose(g_w, g_r, rtol=1e-10, atol=1e-14)


def test_the_validation_loss_is_the_held_out_negative_log_likelihood():
    (X, y), (X_val, y_val) = TRAIN, TEST
    est = FNNRegressor((8,), loss="gaussian_nll", alpha=0.0, max_iter=5, tol=0,
                       learning_rate_init=0.01, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y, X_val=X_val, y_val=y_val)
    assert len(est.validation_loss_curve_) == est.n_iter_ == 5
    mean, std = est.predict(X_val, return_std=True)
    nll = -np.mean(stats.norm.logpdf(y_val, mean, std))
    assert est.validation_loss_curve_[-1] == pytest.approx(nll, rel=1e-10)


def test_early_stopping_on_the_loss_keeps_the_best_quantiles():
    (X, y), (X_val, y_val) = TRAIN, TEST
    est = FNNRegressor((8,), loss="quantile", quantile=[0.1, 0.9], alpha=0.0,
                       early_stopping=True, scoring="loss", max_iter=60,
                       learning_rate_init=0.01, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y, X_val=X_val, y_val=y_val)
    P = est.predict(X_val)
    pinball = sum(np.mean(np.maximum(q * (y_val - P[:, i]), (q - 1) * (y_val - P[:, i])))
                  for i, q in enumerate([0.1, 0.9]))
    assert -est.best_validation_score_ == pytest.approx(pinball, rel=1e-10)
    assert pinball == pytest.approx(min(est.validation_loss_curve_), rel=1e-10)


def test_partial_fit_and_warm_start_continue_the_head():
    X, y = TRAIN
    est = FNNRegressor((8,), loss="gaussian_nll", random_state=0)
    for _ in range(3):
        est.partial_fit(X, y)
    assert len(est.loss_curve_) == 3 and est.coefs_[-1].shape == (8, 2)
    warm = FNNRegressor((8,), loss="quantile", quantile=[0.1, 0.9], warm_start=True,
                        max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warm.fit(X, y)
        first = [W.copy() for W in warm.coefs_]
        warm.fit(X, y)
    assert len(warm.loss_curve_) == 6 and not np.allclose(first[0], warm.coefs_[0])
    warm.set_params(quantile=[0.1, 0.5, 0.9])  # a wider head is another network
    with pytest.raises(ValueError, match="layer sizes"):
        warm.fit(X, y)


def test_pickle_and_skops_round_trips_predict_the_same(gaussian, quantiles, tmp_path):
    pytest.importorskip("skops")
    from skfnn import io

    X, _ = TEST
    for est in (gaussian, quantiles):
        for copy in (pickle.loads(pickle.dumps(est)),
                     io.loads(io.dumps(est))):
            assert_allclose(copy.predict(X), est.predict(X), rtol=0)
    copy = pickle.loads(pickle.dumps(gaussian))
    assert_allclose(copy.predict(X, return_std=True)[1],
                    gaussian.predict(X, return_std=True)[1], rtol=0)


def test_onnx_exports_the_mean_the_std_and_the_quantiles(gaussian, quantiles):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("skl2onnx")
    from skfnn.onnx import to_onnx

    X, _ = TEST
    X32 = X.astype(np.float32)
    mean, std = gaussian.predict(X32, return_std=True)
    for dtype in (np.float32, np.float64):
        model = to_onnx(gaussian, X[:1].astype(dtype), return_std=True)
        got_mean, got_std = ort.InferenceSession(model.SerializeToString()).run(
            None, {"X": X.astype(dtype)})
        tol = 1e-5 if dtype == np.float32 else 1e-12
        assert_allclose(got_mean[:, 0], gaussian.predict(X), rtol=tol, atol=tol)
        assert_allclose(got_std[:, 0], gaussian.predict(X, return_std=True)[1], rtol=tol)
    only_mean = to_onnx(gaussian, X32[:1])
    assert [o.name for o in only_mean.graph.output] == ["variable"]
    P = ort.InferenceSession(to_onnx(quantiles, X[:1]).SerializeToString()).run(
        None, {"X": X})[0]
    assert_allclose(P, quantiles.predict(X), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="return_std=True needs"):
        to_onnx(quantiles, X[:1], return_std=True)


# ----------------------------------------------------------------------------
# The figure and the benchmark of docs/uncertainty.md run
# ----------------------------------------------------------------------------


def test_the_figure_script_draws_the_committed_figure(tmp_path):
    pytest.importorskip("matplotlib")
    script = docs_figure_script("uncertainty")
    out = script["main"](tmp_path / "uncertainty.png")
    assert out.stat().st_size > 10_000


def test_the_benchmark_measures_every_method(capsys):
    benchmark = run_script("benchmarks/uncertainty.py")
    rows, crossing = benchmark["main"](["--n-train", "300", "--n-test", "600"])
    assert [r["method"] for r in rows] == ["FNN gaussian_nll", "FNN quantile", "HGB quantile",
                                          "GaussianProcess"]
    assert all(0.5 < r["coverage"] <= 1 and r["width"] > 0 for r in rows)
    assert 0 <= crossing <= 1
    assert "coverage" in capsys.readouterr().out


def test_mapie_calibrates_quantile_networks_to_the_nominal_coverage():
    """MAPIE's conformalized quantile regression on three fitted quantile networks (the
    docs' recipe): held-out coverage near the nominal 90 %, and the calibration moved
    each bound of every point by one constant, a 95 % quantile of that bound's
    calibration scores recomputed here from the networks' predictions."""
    regression = pytest.importorskip("mapie.regression")
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, 4000)
    y = np.sin(x) + (0.1 + 0.3 * np.abs(x)) * rng.standard_normal(4000)
    X = x[:, None]
    net = dict(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=300, random_state=0)
    fits = [FNNRegressor(loss="quantile", quantile=q, **net).fit(X[:2000], y[:2000])
            for q in (0.05, 0.95, 0.5)]
    cqr = regression.ConformalizedQuantileRegressor(fits, confidence_level=0.9, prefit=True)
    cqr.conformalize(X[2000:3000], y[2000:3000])
    _, band = cqr.predict_interval(X[3000:])
    low, high = band[:, 0, 0], band[:, 1, 0]
    assert 0.86 <= np.mean((low <= y[3000:]) & (y[3000:] <= high)) <= 0.94
    # Each bound moved by one constant, a (1 − α/2) quantile of its own calibration
    # scores (MAPIE's default, asymmetric correction): lower − y and y − upper.
    lower_scores = fits[0].predict(X[2000:3000]) - y[2000:3000]
    upper_scores = y[2000:3000] - fits[1].predict(X[2000:3000])
    shifts = (fits[0].predict(X[3000:]) - low, high - fits[1].predict(X[3000:]))
    for shift, scores in zip(shifts, (lower_scores, upper_scores), strict=True):
        assert_allclose(shift, shift[0], atol=1e-12)
        assert np.quantile(scores, 0.93) <= shift[0] <= np.quantile(scores, 0.97)

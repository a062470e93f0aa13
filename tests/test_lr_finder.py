"""skfnn.lr_finder: the range test's curve against a loop written here, its stopping and
suggestion rules, the untouched estimator, the errors, and its Display."""

import copy
import types
import warnings

import numpy as np
import pytest
from helpers import docs_figure_script
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_classification, make_regression
from sklearn.utils import shuffle

from skfnn import FNNClassifier, FNNRegressor, LearningRateFinderDisplay, lr_finder
from skfnn._lr_finder import suggest_rate

XR, YR = make_regression(n_samples=50, n_features=3, noise=1.0, random_state=0)
YR = YR / YR.std()
X, y = make_classification(n_samples=120, n_features=5, n_informative=3, n_classes=3,
                           random_state=0)


def _weights_from(seed):
    """An ``init`` callable drawing W from the test's own generator (biases start at 0)."""
    rng = np.random.default_rng(seed)
    return lambda fan_in, fan_out, random_state, dtype: rng.normal(0, 0.5, (fan_in, fan_out))


def _loss_and_gradient(W1, b1, W2, b2, Xb, yb, alpha):
    """J and ∇J of a tanh network with squared loss on one batch, by hand.

    J = Σ (p − y)² / (2 n) + α (‖W1‖² + ‖W2‖²) / (2 n), as scikit-learn's MLP.
    """
    n = Xb.shape[0]
    H = np.tanh(Xb @ W1 + b1)
    p = H @ W2 + b2
    J = ((p - yb) ** 2).sum() / (2 * n) + alpha * ((W1 ** 2).sum() + (W2 ** 2).sum()) / (2 * n)
    D2 = (p - yb) / n
    D1 = (D2 @ W2.T) * (1 - H ** 2)
    return J, [Xb.T @ D1 + alpha * W1 / n, D1.sum(0), H.T @ D2 + alpha * W2 / n, D2.sum(0)]


def _range_test_by_hand(solver, rates, batch, alpha, seed):
    """The same minibatches (fit's shuffling from RandomState(0)), steps and rates."""
    draw = _weights_from(seed)
    params = [draw(3, 4, None, None), np.zeros(4), draw(4, 1, None, None), np.zeros(1)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    rs, idx, losses, t = np.random.RandomState(0), np.arange(len(XR)), [], 0
    batches = []
    while len(batches) < len(rates):
        idx = shuffle(idx, random_state=rs)
        batches += [idx[i:i + batch] for i in range(0, len(idx), batch)]
    for rate, rows in zip(rates, batches, strict=True):
        J, grads = _loss_and_gradient(*params, XR[rows], YR[rows, None], alpha)
        losses.append(J)
        t += 1
        for p, g, mi, vi in zip(params, grads, m, v, strict=True):
            if solver == "sgd":  # momentum 0: θ ← θ − η g
                p -= rate * g
            else:  # scikit-learn's Adam
                mi[...] = 0.9 * mi + 0.1 * g
                vi[...] = 0.999 * vi + 0.001 * g ** 2
                p -= rate * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * mi / (np.sqrt(vi) + 1e-8)
    return np.array(losses)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_curve_against_a_loop_written_here(solver):
    start, end, num, beta = 1e-3, 0.5, 20, 0.9
    est = FNNRegressor((4,), activation="tanh", solver=solver, momentum=0.0, alpha=1e-3,
                       batch_size=16, init=_weights_from(7), random_state=0)
    result = lr_finder(est, XR, YR, start=start, end=end, num=num, smoothing=beta,
                       diverge=None)
    rates = start * (end / start) ** (np.arange(num) / (num - 1))
    assert_allclose(result.learning_rates, rates, rtol=1e-12)
    # 50 rows in batches of 16, 16, 16 and 2: 20 steps reshuffle four times.
    raw = _range_test_by_hand(solver, rates, 16, 1e-3, seed=7)
    assert_allclose(result.raw_losses, raw, rtol=1e-10)
    average, smoothed = 0.0, []
    for i, J in enumerate(raw):
        average = beta * average + (1 - beta) * J
        smoothed.append(average / (1 - beta ** (i + 1)))
    assert_allclose(result.losses, smoothed, rtol=1e-10)
    # The steps counted: the same loop with every rate 0 gives another curve.
    assert not np.allclose(raw, _range_test_by_hand(solver, 0 * rates, 16, 1e-3, seed=7))


def test_the_run_stops_when_the_smoothed_loss_exceeds_diverge_times_its_best():
    est = FNNClassifier((8,), solver="sgd", batch_size=20, random_state=0)
    result = lr_finder(est, X, y, start=1e-4, end=1e4, num=200, smoothing=0.5, diverge=4.0)
    losses = result.losses
    assert 10 < len(losses) < 200
    assert len(result.learning_rates) == len(result.raw_losses) == len(losses)
    best_before = np.minimum.accumulate(losses)[:-1]
    assert (losses[1:-1] <= 4 * best_before[:-1]).all()
    assert not losses[-1] <= 4 * best_before[-1]  # the last: > 4 × best, or NaN


def test_the_suggestion_is_the_steepest_descent_on_a_synthetic_curve():
    rates = np.geomspace(1e-6, 1.0, 61)  # 10 points a decade: rates[30] == 1e-3
    x = np.log10(rates)
    losses = 2 - np.tanh((x + 3) / 0.5) + np.where(x > -0.5, 50 * (x + 0.5) ** 2, 0)
    losses[:10] -= np.linspace(0, 3, 10)  # steeper still, but among the first 10 points
    assert np.argmin(np.gradient(losses, np.log(rates))) < 10
    assert suggest_rate(rates, losses) == pytest.approx(1e-3, rel=1e-12)
    # The minimum / 10 rule would give another rate: the curve's minimum is near 10^-0.5.
    assert rates[np.argmin(losses[10:]) + 10] / 10 > 1e-2


def test_the_suggestion_lies_before_the_lowest_loss():
    # A curve that falls to its minimum at 10^-1, jumps up (divergence, but by less than
    # `diverge` times) and then falls again, more steeply, at much larger rates: the
    # second descent is a diverged network, not a rate to train at. Before: the
    # suggestion was that second descent (digits, FNNClassifier((32,)), batch_size=32,
    # seed 0 gave 3.27, a rate that trains to 10 % accuracy).
    rates = np.geomspace(1e-6, 10.0, 71)  # 10 points a decade: rates[40] == 1e-2
    x = np.log10(rates)
    losses = 2 - np.tanh((x + 2) / 0.5)  # steepest at 10^-2
    # Up by 3.8 times the lowest loss just past 10^-1, then down from 4 to 3 around 10^0.5.
    losses = np.where(x > -1, 4.0 - (1 + np.tanh((x - 0.5) / 0.05)) / 2, losses)
    assert np.argmin(losses) == 50 and losses.max() < 4 * losses.min()
    assert np.argmin(np.gradient(losses, np.log(rates))[10:-1]) + 10 == 65  # 10^0.5
    assert suggest_rate(rates, losses) == pytest.approx(1e-2, rel=1e-12)


@pytest.mark.parametrize("losses, match", [
    (np.linspace(1, 2, 30), "never decreased"),
    (np.ones(12), "fewer than 3"),
])
def test_no_suggestion_is_warned(losses, match):
    with pytest.warns(UserWarning, match=match):
        assert suggest_rate(np.geomspace(1e-5, 1, len(losses)), losses) is None


def _snapshot(obj):
    if isinstance(obj, types.ModuleType):  # the network's array namespace
        return obj
    if isinstance(obj, np.ndarray):
        return ("array", obj.copy())
    if isinstance(obj, (list, tuple)):
        return (type(obj), [_snapshot(o) for o in obj])
    if hasattr(obj, "__dict__") and not isinstance(obj, type):
        return (type(obj), id(obj), {k: _snapshot(v) for k, v in vars(obj).items()})
    return copy.deepcopy(obj)


def _assert_same_snapshot(a, b):
    if isinstance(a, tuple) and a and a[0] == "array":
        assert np.shape(a[1]) == np.shape(b[1]) and np.asarray(a[1]).dtype == np.asarray(b[1]).dtype
        assert_array_equal(a[1], b[1])
    elif isinstance(a, tuple) and len(a) == 3 and isinstance(a[2], dict):
        assert a[:2] == b[:2] and a[2].keys() == b[2].keys()
        for key in a[2]:
            _assert_same_snapshot(a[2][key], b[2][key])
    elif isinstance(a, tuple) and len(a) == 2 and isinstance(a[1], list):
        assert a[0] == b[0] and len(a[1]) == len(b[1])
        for p, q in zip(a[1], b[1], strict=True):
            _assert_same_snapshot(p, q)
    else:
        assert a == b or (a != a and b != b)  # NaN


@pytest.mark.parametrize("fitted", [False, True])
def test_the_estimator_is_untouched(fitted):
    est = FNNClassifier((6,), solver="adam", max_iter=5, random_state=0)
    if fitted:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y)
    before = {k: (id(v), _snapshot(v)) for k, v in est.__dict__.items()}
    lr_finder(est, X, y, num=30)
    after = {k: (id(v), _snapshot(v)) for k, v in est.__dict__.items()}
    assert before.keys() == after.keys()
    for key in before:
        assert before[key][0] == after[key][0], key  # the same objects...
        _assert_same_snapshot(before[key][1], after[key][1])  # ...with the same contents


def test_lbfgs_has_no_learning_rate():
    with pytest.raises(ValueError, match="solver='lbfgs' takes no learning rate"):
        lr_finder(FNNRegressor(solver="lbfgs"), XR, YR)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(start=0), ValueError, "start must be a positive finite number"),
    (dict(start=1.0, end=0.1), ValueError, "start < end"),
    (dict(num=1), ValueError, "num must be an integer"),
    (dict(smoothing=1.0), ValueError, r"smoothing must be in \[0, 1\)"),
    (dict(diverge=1.0), ValueError, "diverge must be a number > 1"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        lr_finder(FNNRegressor(), XR, YR, **kwargs)


def test_not_an_fnn_estimator():
    from sklearn.linear_model import SGDRegressor

    with pytest.raises(TypeError, match="needs an FNNClassifier or FNNRegressor"):
        lr_finder(SGDRegressor(), XR, YR)


def test_bad_parameters_are_named_as_fit_names_them():
    with pytest.raises(ValueError, match="'batch_size' parameter"):
        lr_finder(FNNRegressor(batch_size=0), XR, YR)


def test_display_marks_the_suggestion():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    est = FNNClassifier((8,), batch_size=20, random_state=0)
    display = LearningRateFinderDisplay.from_estimator(est, X, y, start=1e-5, end=10, num=60)
    assert display.ax_.get_xscale() == "log"
    assert_array_equal(display.line_.get_xdata(), display.learning_rates)
    assert_array_equal(display.line_.get_ydata(), display.losses)
    assert_array_equal(display.raw_line_.get_ydata(), display.raw_losses)
    i = int(np.flatnonzero(display.learning_rates == display.suggestion)[0])
    assert display.suggestion_marker_.get_xydata().tolist() == [
        [display.suggestion, pytest.approx(display.losses[i], rel=1e-12)]]
    plt.close("all")


def test_the_docs_figure_script_renders_the_user_guide_figure(tmp_path):
    plt = pytest.importorskip("matplotlib.pyplot")
    script = docs_figure_script("lr_finder")
    path = tmp_path / "lr_finder.png"
    display = script["main"](path)
    (width, height), dpi = script["SIZE_INCHES"], script["DPI"]
    assert plt.imread(path).shape[:2] == (height * dpi, width * dpi)
    assert display.suggestion == suggest_rate(display.learning_rates, display.losses)

"""AdamW, RMSprop, the learning-rate schedules and gradient clipping against PyTorch.

The yardstick is PyTorch's own optimizers, schedulers and ``clip_grad_norm_``
on a network written here in torch with the same weights: full-batch steps
(``batch_size=n_samples, shuffle=False``), so that both sides take the same
steps, compared in float64. The schedules' rates are also checked against
their formulas, written out here.
"""

import math
import os
import pickle
import warnings
from importlib.util import find_spec

import numpy as np
import pytest
import sklearn
from helpers import docs_figure_script
from numpy.testing import assert_allclose
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor
from sklearn.utils._param_validation import InvalidParameterError

from skfnn import FNNClassifier, FNNRegressor, schedules
from skfnn.optimizers import SGD, AdamW, RMSprop

N, STEPS = 60, 12


def regression():
    X, y = make_regression(n_samples=N, n_features=4, noise=1.0, random_state=0)
    return X, y / y.std()


def _quietly(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fn(*args, **kwargs)


def start_from_the_same_weights(**params):
    """An estimator holding some trained weights W0, set to continue with ``params``
    (warm_start) by full-batch steps; and a copy of W0."""
    X, y = regression()
    est = _quietly(FNNRegressor((6, 5), activation="tanh", solver="lbfgs", max_iter=3,
                                random_state=0).fit, X, y)
    W0 = [W.copy() for W in est.coefs_], [b.copy() for b in est.intercepts_]
    est.set_params(warm_start=True, batch_size=N, shuffle=False, max_iter=STEPS,
                   n_iter_no_change=np.inf, **params)
    return est, W0, X, y


def torch_steps(W0, X, y, alpha, make_optimizer, make_scheduler=None, clip_norm=None):
    """STEPS full-batch steps in PyTorch on skfnn's objective
    J = ½ Σ (a − y)² / n + α / (2 n) Σ_l ‖W^l‖², tanh hidden layers, identity output."""
    torch = pytest.importorskip("torch")
    Ws = [torch.tensor(W, dtype=torch.float64, requires_grad=True) for W in W0[0]]
    bs = [torch.tensor(b, dtype=torch.float64, requires_grad=True) for b in W0[1]]
    Xt, Yt = torch.tensor(X), torch.tensor(y).reshape(-1, 1)
    opt = make_optimizer([*Ws, *bs])
    scheduler = None if make_scheduler is None else make_scheduler(opt)
    norms = []
    for _ in range(STEPS):
        opt.zero_grad()
        A = Xt
        for l, (W, b) in enumerate(zip(Ws, bs, strict=True)):
            A = A @ W + b
            if l < len(Ws) - 1:
                A = torch.tanh(A)
        J = 0.5 * ((A - Yt) ** 2).sum() / N + alpha / (2 * N) * sum((W**2).sum() for W in Ws)
        J.backward()
        if clip_norm is not None:
            norms.append(float(torch.nn.utils.clip_grad_norm_([*Ws, *bs], clip_norm)))
        opt.step()
        if scheduler is not None:
            scheduler.step()
    return [W.detach().numpy() for W in Ws] + [b.detach().numpy() for b in bs], norms


def assert_same_weights(est, expected):
    got = est.coefs_ + est.intercepts_
    gap = max(float(np.max(np.abs(a - b))) for a, b in zip(got, expected, strict=True))
    assert gap < 1e-8, gap
    return gap


# ----------------------------------------------------------------------
# Optimizers
# ----------------------------------------------------------------------
OPTIMIZERS = {
    "adamw": (dict(solver="adamw", learning_rate_init=0.01, weight_decay=0.05,
                   beta_1=0.8, beta_2=0.99, epsilon=1e-7),
              lambda torch, p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.05,
                                                 betas=(0.8, 0.99), eps=1e-7)),
    "adamw-defaults": (dict(solver="adamw", learning_rate_init=0.01),
                       lambda torch, p: torch.optim.AdamW(p, lr=0.01)),
    "rmsprop": (dict(solver="rmsprop", learning_rate_init=0.005, rho=0.8, epsilon=1e-6),
                lambda torch, p: torch.optim.RMSprop(p, lr=0.005, alpha=0.8, eps=1e-6)),
    "rmsprop-defaults": (dict(solver="rmsprop", learning_rate_init=0.005),
                         lambda torch, p: torch.optim.RMSprop(p, lr=0.005, alpha=0.9)),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_takes_pytorchs_steps(name):
    torch = pytest.importorskip("torch")
    params, make = OPTIMIZERS[name]
    est, W0, X, y = start_from_the_same_weights(alpha=0.3, **params)
    expected, _ = torch_steps(W0, X, y, 0.3, lambda p: make(torch, p))
    _quietly(est.fit, X, y)
    assert est.n_iter_ == STEPS
    assert_same_weights(est, expected)


def test_adamw_without_weight_decay_is_not_scikit_learns_adam():
    """ε on √v̂ (PyTorch) against ε on √v with a corrected step (scikit-learn): a large ε
    tells them apart, so "adamw" is not "adam" renamed."""
    X, y = regression()
    fits = [_quietly(FNNRegressor((5,), solver=s, epsilon=0.1, weight_decay=0.0,
                                  max_iter=3, random_state=0).fit, X, y)
            for s in ("adam", "adamw")]
    assert not np.allclose(fits[0].coefs_[0], fits[1].coefs_[0], rtol=1e-6)


def test_new_parameters_are_ignored_by_other_solvers():
    X, y = regression()
    base = dict(hidden_layer_sizes=(5,), max_iter=5, random_state=0)
    for solver in ("sgd", "adam"):
        a = _quietly(FNNRegressor(solver=solver, **base).fit, X, y)
        b = _quietly(FNNRegressor(solver=solver, weight_decay=0.5, rho=0.5, **base).fit, X, y)
        for u, v in zip(a.coefs_, b.coefs_, strict=True):
            np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("param, value", [("weight_decay", -0.1), ("rho", 1.0),
                                          ("warmup_epochs", -1), ("clip_norm", 0.0),
                                          ("solver", "adagrad"), ("learning_rate", "step")])
def test_bad_values_are_refused_by_name(param, value):
    X, y = regression()
    with pytest.raises(InvalidParameterError, match=param):
        FNNRegressor(**{param: value}).fit(X, y)


# ----------------------------------------------------------------------
# Schedules: rates against their formulas and PyTorch's schedulers
# ----------------------------------------------------------------------
def rates(optimizer, epochs, samples_per_epoch=N):
    """η of each epoch, as the optimizer gives them (after each epoch: iteration_ends(t))."""
    out = [optimizer.learning_rate]
    for e in range(1, epochs):
        optimizer.iteration_ends(e * samples_per_epoch)
        out.append(optimizer.learning_rate)
    return np.array(out)


def torch_rates(make_scheduler, epochs, eta0):
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=eta0)
    scheduler = make_scheduler(torch, opt)
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return np.array(out)


ETA0, T, W = 0.1, 20, 4
SCHEDULE_CASES = {
    "cosine": (dict(schedule=schedules.CosineAnnealing(T)),
               lambda e: ETA0 * (1 + math.cos(math.pi * e / T)) / 2,
               lambda torch, o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=T)),
    "cosine-eta_min": (dict(schedule=schedules.CosineAnnealing(T, eta_min=0.01)),
                       lambda e: 0.01 + (ETA0 - 0.01) * (1 + math.cos(math.pi * e / T)) / 2,
                       lambda torch, o: torch.optim.lr_scheduler.CosineAnnealingLR(
                           o, T_max=T, eta_min=0.01)),
    "invscaling": (dict(schedule=schedules.InvScaling(0.3)),
                   lambda e: ETA0 / (e * N + 1) ** 0.3,
                   lambda torch, o: torch.optim.lr_scheduler.LambdaLR(
                       o, lambda e: 1 / (e * N + 1) ** 0.3)),
    "warmup": (dict(warmup_epochs=W),
               lambda e: ETA0 * min(1, (e + 1) / (W + 1)),
               lambda torch, o: torch.optim.lr_scheduler.LinearLR(
                   o, start_factor=1 / (W + 1), total_iters=W)),
    "warmup-cosine": (dict(schedule=schedules.CosineAnnealing(T), warmup_epochs=W),
                      lambda e: ETA0 * min(1, (e + 1) / (W + 1))
                      * (1 + math.cos(math.pi * e / T)) / 2,
                      lambda torch, o: torch.optim.lr_scheduler.ChainedScheduler([
                          torch.optim.lr_scheduler.LinearLR(o, start_factor=1 / (W + 1),
                                                            total_iters=W),
                          torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=T)])),
}


@pytest.mark.parametrize("name", list(SCHEDULE_CASES))
@pytest.mark.parametrize("optimizer", [SGD, AdamW, RMSprop])
def test_schedule_rates_follow_the_formula_and_pytorch(name, optimizer):
    kwargs, formula, make = SCHEDULE_CASES[name]
    got = rates(optimizer(3, np.float64, ETA0, **kwargs), T)
    assert_allclose(got, [formula(e) for e in range(T)], rtol=0, atol=1e-15)
    if find_spec("torch"):
        assert_allclose(got, torch_rates(make, T, ETA0), rtol=0, atol=1e-12)


def test_adaptive_divides_by_five_on_each_plateau_as_pytorchs_reduce_on_plateau():
    """Losses that improve by more than tol, or not at all, so that scikit-learn's rule
    (n_iter_no_change epochs without improvement) and PyTorch's (patience) agree."""
    torch = pytest.importorskip("torch")
    losses = [5, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2]
    patience, tol = 2, 1e-4
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=ETA0)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, factor=0.2, patience=patience, threshold=tol, threshold_mode="abs")
    ours, best, count, got, expected = schedules.Adaptive(), np.inf, 0, [], []
    rate = ETA0
    for loss in losses:
        count = 0 if loss < best - tol else count + 1
        best = min(best, loss)
        if count > patience:
            decision, rate = ours.on_plateau(rate)
            assert decision == schedules.REDUCED_LEARNING_RATE
            count = 0
        got.append(rate)
        opt.step()
        reference.step(loss)
        expected.append(opt.param_groups[0]["lr"])
    assert got[-1] < ETA0 / 5  # it reduced more than once
    assert_allclose(got, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("solver", ["adam", "adamw", "rmsprop"])
def test_adaptive_now_reduces_the_rate_of_the_adam_like_solvers_as_of_sgd(solver):
    """With a tol no epoch meets, the plateau comes every n_iter_no_change + 1 epochs:
    scikit-learn's sgd divides η by 5 there, and so does every solver now."""
    X, y = regression()
    params = dict(hidden_layer_sizes=(5,), learning_rate="adaptive", tol=1e9,
                  n_iter_no_change=2, max_iter=12, learning_rate_init=0.01, random_state=0)
    reference = _quietly(MLPRegressor(solver="sgd", **params).fit, X, y)
    ours = _quietly(FNNRegressor(solver=solver, **params).fit, X, y)
    assert ours.n_iter_ == reference.n_iter_ == 12
    assert ours._optimizer.learning_rate == reference._optimizer.learning_rate == 0.01 / 5**3


SCHEDULE_FITS = {
    "sgd-cosine": (dict(solver="sgd", momentum=0.0, learning_rate="cosine",
                        learning_rate_init=0.05),
                   lambda torch, p: torch.optim.SGD(p, lr=0.05),
                   lambda torch, o: torch.optim.lr_scheduler.CosineAnnealingLR(o, STEPS)),
    "adamw-warmup-cosine": (dict(solver="adamw", learning_rate="cosine", warmup_epochs=3,
                                 learning_rate_init=0.02),
                            lambda torch, p: torch.optim.AdamW(p, lr=0.02),
                            lambda torch, o: torch.optim.lr_scheduler.ChainedScheduler([
                                torch.optim.lr_scheduler.LinearLR(o, 1 / 4, total_iters=3),
                                torch.optim.lr_scheduler.CosineAnnealingLR(o, STEPS)])),
    "rmsprop-invscaling": (dict(solver="rmsprop", learning_rate="invscaling", power_t=0.25,
                                learning_rate_init=0.01),
                           lambda torch, p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9),
                           lambda torch, o: torch.optim.lr_scheduler.LambdaLR(
                               o, lambda e: 1 / (e * N + 1) ** 0.25)),
}


@pytest.mark.parametrize("name", list(SCHEDULE_FITS))
def test_scheduled_fit_takes_pytorchs_steps(name):
    torch = pytest.importorskip("torch")
    params, make_opt, make_sched = SCHEDULE_FITS[name]
    est, W0, X, y = start_from_the_same_weights(alpha=0.1, **params)
    expected, _ = torch_steps(W0, X, y, 0.1, lambda p: make_opt(torch, p),
                              lambda o: make_sched(torch, o))
    _quietly(est.fit, X, y)
    assert_same_weights(est, expected)


class Halving(schedules.Schedule):
    """η halves every ``every`` epochs (a user's schedule, as docs/extending.md)."""

    def __init__(self, every=2):
        self.every = every

    def epoch_rate(self, rate, initial, epoch, t):
        return initial * 0.5 ** (epoch // self.every)


def test_a_custom_schedule_object_sets_the_rate_of_each_epoch():
    X, y = regression()
    est = _quietly(FNNRegressor((5,), solver="sgd", learning_rate=Halving(3), max_iter=7,
                                learning_rate_init=0.04, random_state=0).fit, X, y)
    assert est._optimizer.learning_rate == 0.04 * 0.5 ** 2  # after 7 epochs: η of epoch 7
    assert est.get_params()["learning_rate"] == Halving(3)


class Negative(schedules.Schedule):
    def epoch_rate(self, rate, initial, epoch, t):
        return -rate


def test_a_schedule_returning_a_bad_rate_is_named_and_the_fit_changes_nothing():
    X, y = regression()
    est = _quietly(FNNRegressor((5,), max_iter=3, random_state=0).fit, X, y)
    before = [W.copy() for W in est.coefs_]
    est.set_params(learning_rate=Negative(), warm_start=True)
    with pytest.raises(ValueError, match=r"schedule Negative\(\) returned -0.001"):
        est.fit(X, y)
    for a, b in zip(est.coefs_, before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_an_object_without_epoch_rate_is_refused():
    X, y = regression()
    with pytest.raises(InvalidParameterError, match="learning_rate"):
        FNNRegressor(learning_rate=object()).fit(X, y)


@pytest.mark.parametrize("schedule, name", [
    (lambda: schedules.CosineAnnealing(T_max=0), "T_max"),
    (lambda: schedules.CosineAnnealing(T_max=2.5), "T_max"),
    (lambda: schedules.CosineAnnealing(eta_min=-1e-3), "eta_min"),
    (lambda: schedules.Adaptive(divisor=1.0), "divisor"),
    (lambda: schedules.Adaptive(min_rate=float("nan")), "min_rate"),
    (lambda: schedules.InvScaling(power_t=-0.5), "power_t"),
])
def test_a_schedule_with_a_bad_parameter_is_refused_by_name(schedule, name):
    # Before: CosineAnnealing(T_max=0) failed the fit with a bare ZeroDivisionError, and
    # Adaptive(divisor=1.0) silently never reduced the rate.
    with pytest.raises(ValueError, match=name):
        schedule()


# ----------------------------------------------------------------------
# Gradient clipping
# ----------------------------------------------------------------------
@pytest.mark.parametrize("solver", ["sgd", "adamw", "rmsprop"])
def test_clipping_rescales_the_gradient_as_clip_grad_norm(solver):
    torch = pytest.importorskip("torch")
    makers = {"sgd": lambda p: torch.optim.SGD(p, lr=0.05),
              "adamw": lambda p: torch.optim.AdamW(p, lr=0.01),
              "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.005, alpha=0.9)}
    params = dict(solver=solver, clip_norm=0.05, learning_rate_init={
        "sgd": 0.05, "adamw": 0.01, "rmsprop": 0.005}[solver])
    if solver == "sgd":
        params["momentum"] = 0.0
    est, W0, X, y = start_from_the_same_weights(alpha=0.2, **params)
    expected, norms = torch_steps(W0, X, y, 0.2, makers[solver], clip_norm=0.05)
    assert min(norms) > 0.05  # every step was clipped
    _quietly(est.fit, X, y)
    assert_same_weights(est, expected)


def test_clip_gradient_formula():
    from skfnn._training import clip_gradient

    g = np.array([3.0, 4.0])
    clip_gradient(g, 1.0)
    assert_allclose(g, np.array([3.0, 4.0]) / (5 + 1e-6), rtol=1e-15)
    g = np.array([3.0, 4.0])
    clip_gradient(g, 10.0)  # within the bound: untouched
    np.testing.assert_array_equal(g, [3.0, 4.0])


def test_a_large_clip_norm_changes_nothing():
    X, y = regression()
    fits = [_quietly(FNNRegressor((5,), solver="sgd", clip_norm=c, max_iter=5,
                                  random_state=0).fit, X, y) for c in (None, 1e12)]
    for a, b in zip(fits[0].coefs_ + fits[0].intercepts_,
                    fits[1].coefs_ + fits[1].intercepts_, strict=True):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------
# With what exists: partial_fit, pickle, skfnn.io, early stopping, the array API
# ----------------------------------------------------------------------
CONTINUED = [dict(solver="adamw", learning_rate="cosine", warmup_epochs=2, clip_norm=1.0),
             dict(solver="rmsprop", learning_rate=schedules.CosineAnnealing(8, 1e-4)),
             dict(solver="adam", learning_rate="adaptive")]


@pytest.mark.parametrize("params", CONTINUED, ids=lambda p: p["solver"])
@pytest.mark.parametrize("via", ["pickle", "skfnn.io"])
def test_partial_fit_after_a_round_trip_continues_the_same_steps(params, via):
    """The optimizer's state (moments, step count, epoch of the schedule) travels."""
    X, y = make_classification(n_samples=80, n_features=5, random_state=0)
    est = FNNClassifier((6,), random_state=0, max_iter=8, **params)
    for _ in range(3):
        est.partial_fit(X, y, classes=[0, 1])
    if via == "pickle":
        loaded = pickle.loads(pickle.dumps(est))
    else:
        io = pytest.importorskip("skfnn.io")
        pytest.importorskip("skops")
        loaded = io.loads(io.dumps(est))
    assert loaded.get_params() == est.get_params()
    for _ in range(3):
        est.partial_fit(X, y)
        loaded.partial_fit(X, y)
    assert loaded._optimizer.epoch == 6
    for a, b in zip(est.coefs_ + est.intercepts_, loaded.coefs_ + loaded.intercepts_, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("solver", ["adamw", "rmsprop"])
def test_early_stopping_and_validation_data_with_the_new_solvers(solver):
    X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    est = _quietly(FNNClassifier((8,), solver=solver, early_stopping=True,
                                 learning_rate="adaptive", learning_rate_init=0.01,
                                 random_state=0, max_iter=50).fit, X, y)
    assert len(est.validation_scores_) == est.n_iter_
    assert est.score(X, y) > 0.8


def test_dask_says_the_new_solvers_are_stochastic():
    da = pytest.importorskip("dask.array")
    X, y = regression()
    with pytest.raises(ValueError, match="solver='adamw' cannot fit dask arrays"):
        FNNRegressor(solver="adamw").fit(da.from_array(X, chunks=20), da.from_array(y, chunks=20))


ARRAY_API = (find_spec("array_api_strict") is not None and find_spec("torch") is not None
             and os.environ.get("SCIPY_ARRAY_API") == "1")


@pytest.mark.skipif(not ARRAY_API, reason="needs array-api-strict, PyTorch and "
                    "SCIPY_ARRAY_API=1 (as tests/test_array_api.py)")
@pytest.mark.parametrize("params", CONTINUED, ids=lambda p: p["solver"])
@pytest.mark.parametrize("library", ["torch", "array_api_strict"])
def test_the_new_solvers_train_on_other_arrays_as_on_numpy(params, library):
    from skfnn._sklearn_compat import HAS_ARRAY_API

    if not HAS_ARRAY_API:
        pytest.skip("scikit-learn < 1.9 has no array API path for skfnn")
    import array_api_strict
    import torch

    X, y = regression()
    convert = (torch.asarray if library == "torch" else
               lambda a: array_api_strict.asarray(a, device=array_api_strict.Device("device1")))
    kwargs = dict(hidden_layer_sizes=(6,), max_iter=6, random_state=0, batch_size=20, **params)
    reference = _quietly(FNNRegressor(**kwargs).fit, X, y)
    with sklearn.config_context(array_api_dispatch=True):
        est = _quietly(FNNRegressor(**kwargs).fit, convert(X), convert(y))
        est.partial_fit(convert(X), convert(y))
    reference.partial_fit(X, y)
    from skfnn._array_api import to_numpy

    assert type(est._optimizer.v) is type(est.coefs_[0])  # the state lives there too
    for a, b in zip(est.coefs_, reference.coefs_, strict=True):
        assert_allclose(to_numpy(a), b, rtol=1e-9, atol=1e-12)


def test_the_schedules_figure_is_drawn_from_the_optimizer(tmp_path):
    pytest.importorskip("matplotlib")
    script = docs_figure_script("schedules")
    curves = script["curves"]()
    assert_allclose(curves['"cosine"'], [0.1 * (1 + math.cos(math.pi * e / 50)) / 2
                                         for e in range(50)], atol=1e-15)
    adaptive = curves['"adaptive" (plateaus at 15, 30, 40)']
    assert adaptive[14] == 0.1 and adaptive[15] == 0.1 / 5 and adaptive[-1] == 0.1 / 125
    assert script["main"](tmp_path / "s.png").stat().st_size > 0

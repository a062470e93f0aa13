"""The model axis (skfnn/_stack.py): K models trained as one stack, each its own fit.

Every stacked member is compared bit for bit with a separate ``fit`` of the same
estimator: weights, loss curve, iterations, validation scores and predictions.
"""

import copy
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from skfnn import FNNClassifier, FNNRegressor, _engine, _fitting, _stack
from skfnn.activations import Activation
from skfnn.losses import Loss

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SEEDS, ALPHAS, RATES = (3, 14, 15, 92), (1e-4, 1e-2, 0.0, 3e-3), (1e-3, 3e-3, 5e-4, 2e-3)


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(97, 5)
    y = np.tanh(X @ rng.randn(5)) + 0.1 * rng.randn(97)
    labels = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.8)
    return X, y, labels, rng.uniform(0.2, 2.0, 97)


def members(est, K=3, vary=("random_state", "alpha", "learning_rate_init")):
    table = {"random_state": SEEDS, "alpha": ALPHAS, "learning_rate_init": RATES}
    return [clone(est).set_params(**{name: table[name][k] for name in vary}) for k in range(K)]


def assert_same_fit(stacked, X, y, sample_weight=None):
    """``stacked`` equals its own fit bit for bit."""
    own = clone(stacked).fit(X, y, sample_weight)
    for a, b in zip(stacked.coefs_ + stacked.intercepts_, own.coefs_ + own.intercepts_,
                    strict=True):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
    assert stacked.loss_curve_ == own.loss_curve_
    assert (stacked.n_iter_, stacked.t_, stacked.best_loss_) == (own.n_iter_, own.t_,
                                                                 own.best_loss_)
    assert stacked.validation_scores_ == own.validation_scores_
    assert stacked._no_improvement_count == own._no_improvement_count
    np.testing.assert_array_equal(stacked.predict(X), own.predict(X))
    if own.solver != "lbfgs":
        for name in own._optimizer.state:
            np.testing.assert_array_equal(getattr(stacked._optimizer, name),
                                          getattr(own._optimizer, name))
        assert stacked._optimizer.learning_rate == own._optimizer.learning_rate


@pytest.fixture
def stacked_runs(monkeypatch):
    """Counts the members trained in a stack (not one after another)."""
    counted = []
    real = _stack.fit_stochastic

    def counting(members):
        counted.append(len(members))
        return real(members)
    monkeypatch.setattr(_stack, "fit_stochastic", counting)
    return counted


@pytest.mark.parametrize("solver", ["sgd", "adam", "adamw", "rmsprop"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("vary", [("random_state", "alpha", "learning_rate_init"),
                                  ("random_state", "learning_rate_init")],
                         ids=["an alpha of 0", "every alpha nonzero"])
def test_members_equal_their_own_fits(data, solver, dtype, vary, stacked_runs):
    X, y, _, _ = data
    X = X.astype(dtype)
    est = FNNRegressor(hidden_layer_sizes=(7, 4), solver=solver, max_iter=12, batch_size=20)
    fitted = _stack.fit_members(members(est, K=4, vary=vary), X, y)
    assert stacked_runs == [4]
    for member in fitted:
        assert_same_fit(member, X, y)


@pytest.mark.parametrize("params", [
    dict(early_stopping=True, max_iter=60, n_iter_no_change=3, validation_fraction=0.2),
    dict(dropout=0.3, activation="tanh"),
    dict(clip_norm=0.05, solver="sgd", learning_rate="adaptive", momentum=0.5),
    dict(learning_rate="cosine", warmup_epochs=3, solver="adamw", weight_decay=0.1),
    dict(shuffle=False, solver="sgd", nesterovs_momentum=False),
    dict(max_iter=400, tol=1e-3, n_iter_no_change=4, learning_rate_init=0.05),
    dict(loss="gaussian_nll"),
    dict(loss="quantile", quantile=[0.1, 0.9]),
    dict(loss="huber", activation="logistic", batch_size=97),
], ids=lambda p: "-".join(p))
def test_training_options_per_member(data, params, stacked_runs):
    X, y, _, _ = data
    est = FNNRegressor(**{"hidden_layer_sizes": (6,), "max_iter": 15, "batch_size": 16,
                          **params})
    fitted = _stack.fit_members(members(est), X, y)
    assert stacked_runs == [3]
    for member in fitted:
        assert_same_fit(member, X, y)


def test_members_leave_the_stack_at_their_own_epochs(data):
    """n_iter_no_change ends members at different epochs; the rest go on unchanged."""
    X, y, _, _ = data
    est = FNNRegressor(hidden_layer_sizes=(6,), max_iter=500, tol=1e-4, n_iter_no_change=3,
                       batch_size=32, learning_rate_init=0.02)
    fitted = _stack.fit_members(members(est, K=4, vary=("random_state",)), X, y)
    assert len({m.n_iter_ for m in fitted}) > 1
    for member in fitted:
        assert member.n_iter_ < 500
        assert_same_fit(member, X, y)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_weighted_classifiers(data, dtype, stacked_runs):
    X, _, labels, weights = data
    X = X.astype(dtype)
    for target in (labels, labels > 0):  # three classes (softmax), two (logistic)
        est = FNNClassifier(hidden_layer_sizes=(5,), max_iter=10, batch_size=25,
                            class_weight="balanced")
        fitted = _stack.fit_members(members(est), X, target, weights)
        for member in fitted:
            assert_same_fit(member, X, target, weights)
    assert stacked_runs == [3, 3]


class Cube(Activation):
    """A user's activation without forward_into: called on the stack's rows."""

    def forward(self, z):
        return z + z**3 / 3

    def derivative(self, z, a):
        return 1 + z**2


class Quartic(Loss):
    """A user's loss with per-sample values (no pointwise): called once per member."""

    def per_sample(self, y, a):
        return ((a - y) ** 4).sum(axis=1)

    def gradient(self, y, a):
        return 4 * (a - y) ** 3


def test_user_objects(data, stacked_runs):
    X, y, _, _ = data
    est = FNNRegressor(hidden_layer_sizes=(5,), activation=Cube(), loss=Quartic(),
                       max_iter=8, batch_size=30, learning_rate_init=1e-4)
    fitted = _stack.fit_members(members(est, vary=("random_state",)), X, y)
    assert stacked_runs == [3]
    for member in fitted:
        assert_same_fit(member, X, y)


class Broken(Activation):
    """Returns one column too few after the first step."""

    calls = 0

    def forward(self, z):
        Broken.calls += 1
        return z if Broken.calls < 4 else z[:, :-1]

    def derivative(self, z, a):
        return np.ones_like(z)


def test_broken_user_object_named_and_members_restored(data):
    X, y, _, _ = data
    est = FNNRegressor(hidden_layer_sizes=(5,), activation=Broken(), max_iter=5)
    group = members(est, vary=("random_state",))
    with pytest.raises(ValueError, match="Broken"):
        _stack.fit_members(group, X, y)
    assert not any(hasattr(m, "coefs_") for m in group)


def test_one_stack_per_group(data, stacked_runs):
    """Members that differ outside random_state, alpha and learning_rate_init stack apart."""
    X, y, _, _ = data
    est = FNNRegressor(hidden_layer_sizes=(5,), max_iter=6)
    narrow = members(est, K=2)
    wide = members(est.set_params(hidden_layer_sizes=(9,)), K=3)
    mixed = [narrow[0], wide[0], narrow[1], wide[1], wide[2]]
    assert [[mixed.index(m) for m in g] for g in _stack.groups(mixed)] == [[0, 2], [1, 3, 4]]
    # A member that cannot stack (no integer seed) leads no group of the others.
    loose = [clone(narrow[0]).set_params(random_state=None), *narrow]
    assert [[loose.index(m) for m in g] for g in _stack.groups(loose)] == [[0], [1, 2]]
    _stack.fit_members(mixed, X, y)
    assert stacked_runs == [2, 3]
    for member in mixed:
        assert_same_fit(member, X, y)


@pytest.mark.parametrize("case", ["lbfgs", "sparse", "random_state_object", "warm_start"])
def test_what_is_not_stacked_is_fitted_one_by_one(data, case, stacked_runs):
    X, y, _, _ = data
    est = FNNRegressor(hidden_layer_sizes=(5,), max_iter=6)
    group = members(est, vary=("random_state",))
    if case == "lbfgs":
        group = [m.set_params(solver="lbfgs") for m in group]
    elif case == "sparse":
        X = sp.csr_matrix(np.where(np.abs(X) > 1, X, 0))
    elif case == "random_state_object":
        for k, m in enumerate(group):
            m.set_params(random_state=np.random.RandomState(k))
    else:
        for m in group:
            m.set_params(warm_start=True).fit(X, y)
    own = [clone(m) if case != "warm_start" else copy.deepcopy(m) for m in group]
    _stack.fit_members(group, X, y)
    if case == "sparse":  # prepared, then trained one after another
        assert stacked_runs == []
    if case in ("lbfgs", "sparse"):
        for member in group:
            assert_same_fit(member, X, y)
    elif case == "random_state_object":
        for k, (member, twin) in enumerate(zip(group, own, strict=True)):
            twin.set_params(random_state=np.random.RandomState(k)).fit(X, y)
            np.testing.assert_array_equal(member.coefs_[0], twin.coefs_[0])
    else:  # each went on from its own weights
        for member, twin in zip(group, own, strict=True):
            twin.fit(X, y)
            np.testing.assert_array_equal(member.coefs_[0], twin.coefs_[0])
            assert member.loss_curve_ == twin.loss_curve_ and len(twin.loss_curve_) > 6
    assert stacked_runs == []


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize("loss", ["squared_error", "log_loss", "gaussian_nll", "poisson"])
def test_stacked_loss_and_gradient_is_each_models(activation, loss):
    """One stacked (J, ∇J) evaluation against the engine's, model by model, bit for bit."""
    rng = np.random.RandomState(1)
    X, K = rng.randn(13, 4), 3
    if loss == "log_loss":
        est, y = FNNClassifier(activation=activation), rng.randint(3, size=13)
    else:
        est, y = FNNRegressor(activation=activation, loss=loss), rng.rand(13) + 0.5
    group = members(est.set_params(hidden_layer_sizes=(6, 3), max_iter=1), K=K)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        prepared = [_fitting.prepared(m, X, y, None) for m in group]
    stack = _stack.Stack([p[0] for p in prepared], 13)
    stack.Theta[...] = rng.randn(*stack.Theta.shape) * 0.5
    sw = rng.uniform(0.5, 2, (K, 13))
    runs = stack.runs
    idx = np.stack([rng.permutation(13) for _ in range(K)])
    for weights in (None, sw):
        data = _stack._gather(runs, idx, np.float64, True)
        data = (*data[:2], weights)
        Js = _stack.loss_and_gradients(stack.nets, stack.Theta, data, stack.Grad,
                                       stack.workspace)
        for k, run in enumerate(runs):
            J, g = _engine.loss_and_gradient(run.net, stack.Theta[k].copy(), data[0][k],
                                             data[1][k], None if weights is None else sw[k])
            assert Js[k] == J
            np.testing.assert_array_equal(stack.Grad[k], g)


@pytest.mark.parametrize("solver", ["sgd", "adam", "adamw", "rmsprop"])
def test_large_stacks_update_row_by_row(data, solver, monkeypatch):
    """A stack over WHOLE_STACK elements steps each row as its own optimizer would."""
    monkeypatch.setattr(_stack, "WHOLE_STACK", 0)
    X, y, _, weights = data
    est = FNNRegressor(hidden_layer_sizes=(7,), solver=solver, max_iter=8, batch_size=20,
                       clip_norm=1.0)
    fitted = _stack.fit_members(members(est), X, y, weights)
    for member in fitted:
        assert_same_fit(member, X, y, weights)


def test_large_groups_train_as_several_stacks(data, stacked_runs, monkeypatch):
    """A group over STACK_ELEMENTS trains as stacks of equal size, each member its own fit."""
    X, y, _, _ = data
    est = FNNRegressor(hidden_layer_sizes=(6,), max_iter=5, batch_size=10)
    per_member = 10 * (6 + 1) + 4 * (5 * 6 + 6 + 6 + 1)
    monkeypatch.setattr(_stack, "STACK_ELEMENTS", 2 * per_member)
    fitted = _stack.fit_members(members(est, K=4), X, y)
    assert stacked_runs == [2, 2]
    for member in fitted:
        assert_same_fit(member, X, y)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_early_stopping_with_weights_splits_each_members_rows(data, dtype):
    """Each member's own stratified validation split, with its weights, in the stack."""
    X, _, labels, weights = data
    X = X.astype(dtype)
    est = FNNClassifier(hidden_layer_sizes=(5,), max_iter=40, batch_size=16,
                        early_stopping=True, n_iter_no_change=3, validation_fraction=0.25)
    fitted = _stack.fit_members(members(est), X, labels, weights)
    for member in fitted:
        assert_same_fit(member, X, labels, weights)

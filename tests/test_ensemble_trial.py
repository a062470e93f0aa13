"""Deep ensembles tried as a demanding user and an attacker would (trial 22).

What the first tests (tests/test_ensemble.py, tests/test_stack.py) left open:
a boolean ``n_estimators``, ``predict(X, return_std=True)`` and ``score`` for
quantile members, warm-started members, Ctrl-C in a stacked fit, the members'
own early-stopping split failing, sample weights and class weights. Each
stacked member is compared bit for bit with its own fit.
"""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import classification_data, regression_data
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.metrics import r2_score
from sklearn.model_selection import cross_val_score
from sklearn.utils._param_validation import InvalidParameterError

from skfnn import FNNClassifier, FNNRegressor, _stack
from skfnn.activations import Activation
from skfnn.ensemble import FNNEnsembleClassifier, FNNEnsembleRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

X, Y = regression_data(n=40, n_features=3)
_, Y2 = regression_data(n=40, n_features=3, n_outputs=2)
XM, YM = classification_data(n=45, n_classes=3)
SMALL = dict(hidden_layer_sizes=(5,), max_iter=6, learning_rate_init=0.01, batch_size=10)


def same_network(a, b):
    for u, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True):
        assert_array_equal(u, v)
    assert a.n_iter_ == b.n_iter_
    assert_array_equal(a.loss_curve_, b.loss_curve_)


def alone(ensemble, k):
    """Member k's own fit: a clone of the template with the member's seed."""
    return clone(ensemble.estimator).set_params(random_state=int(ensemble.member_seeds_[k]))


# ----------------------------------------------------------------------
# Parameters
# ----------------------------------------------------------------------
@pytest.mark.parametrize("value", [True, False, np.bool_(True)])
def test_a_boolean_n_estimators_is_refused_by_name(value):
    ensemble = FNNEnsembleRegressor(FNNRegressor(**SMALL), n_estimators=value)
    with pytest.raises(InvalidParameterError, match="'n_estimators' parameter"):
        ensemble.fit(X, Y)
    assert not hasattr(ensemble, "estimators_")


def test_the_templates_random_state_object_and_fitted_state_are_ignored():
    template = FNNRegressor(**SMALL, random_state=np.random.RandomState(3)).fit(X, Y)
    ensemble = FNNEnsembleRegressor(template, n_estimators=2, random_state=0).fit(X, Y)
    for k, member in enumerate(ensemble.estimators_):
        assert member is not template
        same_network(member, alone(ensemble, k).fit(X, Y))


# ----------------------------------------------------------------------
# Quantile and multi-output Gaussian members
# ----------------------------------------------------------------------
def quantile_ensemble(quantile):
    net = FNNRegressor(**SMALL, loss="quantile", quantile=quantile)
    return FNNEnsembleRegressor(net, n_estimators=3, random_state=0).fit(X, Y)


@pytest.mark.parametrize("quantile", [0.5, [0.1, 0.5, 0.9]])
def test_quantile_members_have_no_standard_deviation(quantile):
    ensemble = quantile_ensemble(quantile)
    with pytest.raises(ValueError, match=r"return_std=True .*loss='quantile'"):
        ensemble.predict(X, return_std=True)
    # predict alone is each quantile averaged over the members (Vincentization)
    assert_array_equal(ensemble.predict(X),
                       np.mean([m.predict(X) for m in ensemble.estimators_], axis=0))


def test_quantile_members_score_their_mean_point_prediction():
    ensemble = quantile_ensemble([0.1, 0.5, 0.9])
    medians = np.mean([m.predict(X)[:, 1] for m in ensemble.estimators_], axis=0)
    assert ensemble.score(X, Y) == r2_score(Y, medians)
    weights = np.linspace(0.5, 2.0, len(Y))
    assert ensemble.score(X, Y, weights) == r2_score(Y, medians, sample_weight=weights)
    assert np.isfinite(cross_val_score(ensemble, X, Y, cv=2, error_score="raise")).all()


def test_multi_output_gaussian_members_give_each_targets_mixture_std():
    net = FNNRegressor(**SMALL, loss="gaussian_nll")
    ensemble = FNNEnsembleRegressor(net, n_estimators=3, random_state=0).fit(X, Y2)
    pairs = [m.predict(X, return_std=True) for m in ensemble.estimators_]
    mus, sigmas = np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
    mean, std = ensemble.predict(X, return_std=True)
    assert mean.shape == std.shape == (len(X), 2)
    assert_allclose(mean, mus.mean(axis=0), rtol=1e-13)
    assert_allclose(std, np.sqrt((sigmas**2).mean(axis=0) + mus.var(axis=0)), rtol=1e-12)
    assert ensemble.score(X, Y2) == r2_score(Y2, mean)


# ----------------------------------------------------------------------
# warm_start on the members
# ----------------------------------------------------------------------
def test_warm_started_members_continue_from_their_weights():
    net = FNNRegressor(**SMALL, warm_start=True)
    ensemble = FNNEnsembleRegressor(net, n_estimators=3).fit(X, Y)  # seeds drawn at random
    seeds, first = ensemble.member_seeds_.copy(), list(ensemble.estimators_)
    ensemble.fit(X, Y)
    assert_array_equal(ensemble.member_seeds_, seeds)  # the same members, trained on
    for k, member in enumerate(ensemble.estimators_):
        assert member is not first[k]  # the first fit's members are left as they were
        assert first[k].n_iter_ == SMALL["max_iter"]
        same_network(member, alone(ensemble, k).fit(X, Y).fit(X, Y))
    # set on the template, a parameter reaches the continued members
    ensemble.set_params(estimator__learning_rate_init=0.001).fit(X, Y)
    own = alone(ensemble, 0).set_params(learning_rate_init=0.01).fit(X, Y).fit(X, Y)
    same_network(ensemble.estimators_[0], own.set_params(learning_rate_init=0.001).fit(X, Y))


def test_warm_start_with_another_number_of_members_is_refused():
    net = FNNRegressor(**SMALL, warm_start=True)
    ensemble = FNNEnsembleRegressor(net, n_estimators=2, random_state=0).fit(X, Y)
    members = list(ensemble.estimators_)
    with pytest.raises(ValueError, match=r"n_estimators=3 .* 2 members.*warm_start"):
        ensemble.set_params(n_estimators=3).fit(X, Y)
    assert ensemble.estimators_ == members
    ensemble.set_params(estimator__warm_start=False).fit(X, Y)  # a fresh ensemble
    assert len(ensemble.estimators_) == 3


# ----------------------------------------------------------------------
# Ctrl-C during a stacked fit
# ----------------------------------------------------------------------
class Interrupt(Activation):
    """tanh, which raises KeyboardInterrupt on its ``at``-th call (one call per step)."""

    name = "interrupt"
    calls, at = 0, None

    def forward(self, z):
        Interrupt.calls += 1
        if Interrupt.calls == Interrupt.at:
            raise KeyboardInterrupt
        return np.tanh(z)

    def derivative(self, z, a):
        return 1 - a * a


def interrupted_at(step, fit):
    Interrupt.calls, Interrupt.at = 0, step
    try:
        with pytest.warns(UserWarning, match="Training interrupted by user."):
            return fit()
    finally:
        Interrupt.at = None


@pytest.mark.parametrize("step", [1, 5, 7])  # the first step, an epoch's first, mid-epoch
def test_ctrl_c_keeps_every_member_as_its_own_interrupted_fit(step):
    net = FNNRegressor((4,), activation=Interrupt(), max_iter=3, batch_size=10,
                       learning_rate_init=0.01)
    ensemble = FNNEnsembleRegressor(net, n_estimators=3, random_state=0)
    interrupted_at(step, lambda: ensemble.fit(X, Y))
    assert len(ensemble.estimators_) == 3
    for k, member in enumerate(ensemble.estimators_):
        own = interrupted_at(step, lambda k=k: alone(ensemble, k).fit(X, Y))
        same_network(member, own)
        assert member.t_ == own.t_


# ----------------------------------------------------------------------
# Members' own options, bit for bit
# ----------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:Got `batch_size`:UserWarning")  # expected, clipped
def test_a_failing_validation_split_names_itself_and_leaves_the_ensemble():
    Xt, yt = XM[:6], np.array([0, 0, 0, 1, 1, 1])  # 1 held-out row for 2 classes
    ensemble = FNNEnsembleClassifier(FNNClassifier(**SMALL), n_estimators=2,
                                     random_state=0).fit(Xt, yt)
    members = list(ensemble.estimators_)
    ensemble.set_params(estimator__early_stopping=True)
    with pytest.raises(ValueError, match="early_stopping=True could not hold out"):
        ensemble.fit(Xt, yt)
    assert ensemble.estimators_ == members
    assert ensemble.estimator.early_stopping


@pytest.mark.filterwarnings("ignore:Got `batch_size`:UserWarning")  # expected, clipped
@pytest.mark.parametrize("params", [
    dict(class_weight="balanced"), dict(dropout=0.3), dict(batch_size=200),
    dict(early_stopping=True, validation_fraction=0.3)])
def test_classifier_members_with_their_options_are_their_own_fits(params):
    labels = np.array(["cat", "dog", "eel"])[YM]
    weights = np.random.RandomState(0).uniform(0.5, 2.0, len(YM))
    net = FNNClassifier(**{**SMALL, **params})
    ensemble = FNNEnsembleClassifier(net, n_estimators=2, random_state=0)
    ensemble.fit(XM.astype(np.float32), labels, sample_weight=weights)
    assert_array_equal(ensemble.classes_, ["cat", "dog", "eel"])
    for k, member in enumerate(ensemble.estimators_):
        same_network(member, alone(ensemble, k).fit(XM.astype(np.float32), labels, weights))
        assert member.coefs_[0].dtype == np.float32
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        proba = ensemble.predict_proba(XM.astype(np.float32))
    assert_array_equal(proba, np.mean([m.predict_proba(XM.astype(np.float32))
                                       for m in ensemble.estimators_], axis=0))


@pytest.mark.parametrize("parts", ["member after member", "several stacks"])
def test_ctrl_c_ends_a_fit_in_several_parts(parts, monkeypatch):
    """Trained in parts (sparse X: member after member; or several stacks), Ctrl-C ends
    the whole fit: KeyboardInterrupt, and the ensemble as it was (not only the part in
    training interrupted while the others train on)."""
    net = FNNRegressor((4,), activation=Interrupt(), max_iter=3, batch_size=10,
                       learning_rate_init=0.01)
    data = X
    if parts == "member after member":
        data = sp.csr_matrix(X)
    else:
        monkeypatch.setattr(_stack, "STACK_ELEMENTS", 1)  # one member per stack
    ensemble = FNNEnsembleRegressor(net, n_estimators=3, random_state=0)
    before = ensemble.fit(data, Y).estimators_
    Interrupt.calls, Interrupt.at = 0, 5
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # no "interrupted" warning
            with pytest.raises(KeyboardInterrupt):
                ensemble.fit(data, Y)
    finally:
        Interrupt.at = None
    assert ensemble.estimators_ is before
    assert Interrupt.calls == 5  # the first member's fit ended there, and no other began


class Cubic(Activation):
    """A user's activation (compared by its class and parameters after a round trip)."""

    def forward(self, z):
        return z + z**3 / 3

    def derivative(self, z, a):
        return 1 + z**2


def test_a_pickle_whose_members_differ_is_refused():
    net = FNNRegressor((3,), activation=Cubic(), max_iter=5, learning_rate_init=1e-3)
    ensemble = FNNEnsembleRegressor(net, n_estimators=2, random_state=0).fit(X, Y)
    loaded = pickle.loads(pickle.dumps(ensemble))  # a user object survives the check
    assert_array_equal(loaded.predict(X), ensemble.predict(X))
    ensemble.estimators_[1].set_params(alpha=0.5)  # what a crafted file could hold
    with pytest.raises(ValueError, match=r"estimators_\[1\]'s alpha differs"):
        pickle.loads(pickle.dumps(ensemble))

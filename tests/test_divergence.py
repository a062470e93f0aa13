"""Divergence is never silent: a fit whose loss or weights blow up raises, for every
solver (L-BFGS's first evaluation included), with no false alarm on the shipped data
sets; the final check runs inside the one-BLAS-thread limit."""

import copy
import warnings

import numpy as np
import pytest
from helpers import (
    SKLEARN_DIVERGENCE,
    SOLVERS,
    STOCHASTIC,
    assert_failed_call_changed_nothing,
    assert_same_model,
    classification_data,
    regression_data,
)
from numpy.testing import assert_allclose
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    load_wine,
    make_classification,
    make_regression,
)
from sklearn.exceptions import NotFittedError
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from skfnn import FNNClassifier, FNNRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# ======================================================================
# Divergence is never silent
# ======================================================================
def assert_divergence_message(message, stochastic):
    assert message.startswith(SKLEARN_DIVERGENCE), message
    assert "diverged" in message
    assert ("learning_rate_init" in message) == stochastic, message


@pytest.mark.parametrize("early_stopping", [False, True])
def test_the_issues_exploding_sgd_classifier_raises(early_stopping):
    X, y = make_classification(n_samples=200, n_features=10, random_state=0)
    est = FNNClassifier((8,), solver="sgd", learning_rate_init=1e10, max_iter=30,
                        early_stopping=early_stopping, random_state=0)
    with pytest.raises(ValueError) as error:
        est.fit(X, y)
    assert_divergence_message(str(error.value), stochastic=True)
    assert "1e+10" in str(error.value) or "10000000000.0" in str(error.value)
    with pytest.raises(NotFittedError):  # the exploded model is not kept
        check_is_fitted(est)
    # scikit-learn returns the exploded model, with finite weights.
    ref = MLPClassifier((8,), solver="sgd", learning_rate_init=1e10, max_iter=30,
                        early_stopping=early_stopping, random_state=0).fit(X, y)
    assert ref.loss_ > 1e100 and np.isfinite(ref.loss_)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_an_exploding_adam_regressor_raises(early_stopping):
    X, y = make_regression(n_samples=200, n_features=10, noise=1.0, random_state=0)
    est = FNNRegressor((8,), solver="adam", learning_rate_init=100, max_iter=50,
                       early_stopping=early_stopping, random_state=0)
    with pytest.raises(ValueError) as error:
        est.fit(X, y)
    assert_divergence_message(str(error.value), stochastic=True)
    ref = MLPRegressor(hidden_layer_sizes=(8,), solver="adam", learning_rate_init=100,
                       max_iter=50, early_stopping=early_stopping, random_state=0).fit(X, y)
    assert ref.score(X, y) < -1000  # what scikit-learn hands back without a word


def test_lbfgs_divergence_does_not_blame_the_learning_rate():
    X, y = make_regression(n_samples=50, n_features=4, noise=1.0, random_state=0)
    est = FNNRegressor((5,), solver="lbfgs", loss="poisson", max_iter=20, random_state=0)
    with pytest.raises(ValueError) as error, np.errstate(all="ignore"):
        est.fit(X * 1000, np.abs(y) * 1000)
    assert_divergence_message(str(error.value), stochastic=False)


@pytest.mark.parametrize("Estimator, solver", [
    (FNNRegressor, "sgd"), (FNNRegressor, "adam"), (FNNRegressor, "lbfgs"),
    # Adam's steps are bounded by learning_rate_init: on X × 1e300 a classifier's clipped
    # log-loss stays finite and the weights barely move (scikit-learn's too): no divergence.
    (FNNClassifier, "sgd"), (FNNClassifier, "lbfgs")])
@pytest.mark.parametrize("start", ["fresh", "fitted", "warm_start"])
def test_overflowing_data_raises_the_divergence_error_for_every_solver(Estimator, solver,
                                                                       start):
    """Issue 18, item 6: L-BFGS's first evaluation overflowed (the regressor's loss, the
    classifier's gradient), scipy stopped at once, and the fit kept its random initial
    weights with loss_ = nan and only a ConvergenceWarning."""
    X, y = classification_data() if Estimator is FNNClassifier else regression_data()
    est = Estimator((5,), solver=solver, max_iter=20, warm_start=start == "warm_start",
                    random_state=0)
    if start != "fresh":
        est.fit(X, y)
    est._fault_X = X[:5]
    huge_y = y if Estimator is FNNClassifier else y * 1e200
    with np.errstate(all="ignore"):
        assert_failed_call_changed_nothing(est, lambda: est.fit(X * 1e300, huge_y),
                                           ValueError, "diverged")
        with pytest.raises(ValueError) as error, warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            est.fit(X * 1e300, huge_y)
    assert_divergence_message(str(error.value), stochastic=solver != "lbfgs")
    assert not [w for w in seen if "failed to converge" in str(w.message)]  # the error says it


def test_partial_fit_divergence_raises_and_keeps_the_previous_model():
    X, y = make_regression(n_samples=60, n_features=4, noise=1.0, random_state=0)
    est = FNNRegressor((5,), solver="sgd", learning_rate_init=1e-3, batch_size=20,
                       random_state=0).partial_fit(X / 100, y / 100)
    before = copy.deepcopy(est)
    with pytest.raises(ValueError) as error, np.errstate(all="ignore"):
        est.partial_fit(X * 1e4, y)  # unscaled data arriving in the stream
    assert_divergence_message(str(error.value), stochastic=True)
    assert_same_model(est, before)
    assert est.loss_curve_ == before.loss_curve_ and est.t_ == before.t_ == 60


def _scaled(loader, n_rows=300):
    X, y = loader(return_X_y=True)
    rows = np.random.RandomState(0).permutation(len(X))[:n_rows]
    return StandardScaler().fit_transform(X[rows]), y[rows]


def _sweep_cases():
    X, y = _scaled(load_diabetes, n_rows=442)
    y_std = (y - y.mean()) / y.std()
    cases = [(f"diabetes-{loss}", X, y_std, loss)
             for loss in ("squared_error", "absolute_error", "huber")]
    cases.append(("diabetes-poisson", X, y / y.mean(), "poisson"))
    cases.append(("diabetes-unscaled-y", X, y, "squared_error"))
    for loader in (load_digits, load_iris, load_breast_cancer, load_wine):
        Xc, yc = _scaled(loader)
        cases.append((loader.__name__[5:], Xc, yc, "log_loss"))
    return cases


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("case", _sweep_cases(), ids=lambda case: case[0])
def test_no_false_alarm_on_the_shipped_data_sets(solver, case):
    """Ordinary fits never trip the divergence guard; scikit-learn takes the same path."""
    name, X, y, loss = case
    classify = loss == "log_loss"
    params = dict(solver=solver, max_iter=15, random_state=0)
    est = (FNNClassifier if classify else FNNRegressor)(loss=loss, **params).fit(X, y)
    assert np.isfinite(est.loss_) and est.loss_ < est.loss_curve_[0]
    if loss in ("absolute_error", "huber"):  # losses scikit-learn's MLP does not have
        return
    if classify:
        ref = MLPClassifier(**params).fit(X, y)
        assert_allclose(est.predict_proba(X), ref.predict_proba(X), rtol=1e-6, atol=1e-9)
    else:
        ref = MLPRegressor(loss=loss, **params).fit(X, y)
        assert_allclose(est.predict(X), ref.predict(X), rtol=1e-6, atol=1e-9 * y.std())
    assert np.isfinite(ref.loss_)


@pytest.mark.parametrize("solver", STOCHASTIC)
def test_no_false_alarm_from_one_outlier_in_y(solver):
    """A stable fit on data with one large target is not a divergence.

    The loss of the epoch (dominated by the outlier) is compared with the loss of
    the first minibatch (which may not contain it); the fit itself does not grow.
    """
    rng = np.random.RandomState(0)
    X = rng.normal(size=(1000, 5))
    y = X @ rng.normal(size=5) + rng.normal(size=1000)
    y[-1] = 1e5  # one data-entry error
    params = dict(hidden_layer_sizes=(10,), solver=solver, max_iter=5, random_state=0)
    ref = MLPRegressor(**params).fit(X, y)
    assert np.isfinite(ref.loss_curve_).all() and ref.loss_curve_[-1] <= ref.loss_curve_[0]
    est = FNNRegressor(**params).fit(X, y)
    assert_allclose(est.loss_curve_, ref.loss_curve_, rtol=1e-6)


# ======================================================================
# BLAS threads: the divergence check runs inside the one-thread limit
# ======================================================================
def test_the_final_divergence_check_runs_under_the_fits_blas_limit(monkeypatch):
    from threadpoolctl import threadpool_info, threadpool_limits

    from skfnn import _hooks

    def blas_threads():
        return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}

    seen = []
    original = _hooks.DivergenceGuard.end

    def recording_end(self, run):
        seen.append(blas_threads())
        return original(self, run)

    monkeypatch.setattr(_hooks.DivergenceGuard, "end", recording_end)
    X, y = regression_data()
    with threadpool_limits(limits=2, user_api="blas"):
        for solver in SOLVERS:
            FNNRegressor((5,), solver=solver, max_iter=3, random_state=0).fit(X, y)
        assert blas_threads() == {2}
    assert seen == [{1}] * 3



"""The model at predict time: ``coefs_`` and ``intercepts_`` are the model (assigned
arrays are used, checked for shape, dtype and finiteness), and non-finite outputs are an
error, not a class."""

import copy

import numpy as np
import pytest
from helpers import (
    NanBeyondFive,
    assert_same_model,
    classification_data,
    forward_by_hand,
    regression_data,
)
from numpy.testing import assert_allclose
from scipy.special import expit

from skfnn import FNNClassifier, FNNRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# ======================================================================
# The model at predict time
# ======================================================================
def fitted_classifier():
    X, y = classification_data(n_classes=3)
    return FNNClassifier((5,), solver="lbfgs", max_iter=10, random_state=0).fit(X, y), X, y


CORRUPTIONS = {
    "nan": (lambda e: e.coefs_[0].__setitem__((0, 0), np.nan), r"coefs_\[0\].*non-finite"),
    "inf": (lambda e: e.intercepts_[1].__setitem__(0, np.inf), r"intercepts_\[1\].*non-finite"),
    "complex": (lambda e: e.coefs_.__setitem__(1, e.coefs_[1] + 1j),
                r"coefs_\[1\].*complex128"),
    "string": (lambda e: e.coefs_.__setitem__(0, e.coefs_[0].astype(str)), r"coefs_\[0\].*<U"),
    "object": (lambda e: e.intercepts_.__setitem__(0, e.intercepts_[0].astype(object)),
               r"intercepts_\[0\].*object"),
}


@pytest.mark.parametrize("corruption", CORRUPTIONS)
@pytest.mark.parametrize("method", ["predict", "predict_proba", "predict_log_proba", "score",
                                    "partial_fit"])
def test_unusable_parameters_get_a_clear_error(corruption, method):
    est, X, y = fitted_classifier()
    est.set_params(solver="adam")
    mutate, message = CORRUPTIONS[corruption]
    mutate(est)
    call = getattr(est, method)
    with pytest.raises(ValueError, match=message):
        call(X, y) if method in ("score", "partial_fit") else call(X)


def test_parameters_assigned_as_nested_lists_work_or_get_a_clear_error():
    est, X, y = fitted_classifier()
    expected = est.predict_proba(X)
    est.coefs_[0] = est.coefs_[0].tolist()
    for method in ("predict_proba", "predict_log_proba"):
        try:
            got = getattr(est, method)(X)
        except (ValueError, TypeError) as error:
            assert "coefs_[0]" in str(error), str(error)
            continue
        assert_allclose(np.exp(got) if method == "predict_log_proba" else got, expected,
                        rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.int64, bool])
def test_integer_parameters_train_like_floats_or_get_a_clear_error(dtype):
    X, y = regression_data()
    est = FNNRegressor((5,), solver="sgd", max_iter=5, random_state=0).fit(X, y)
    est.coefs_ = [np.ones(W.shape, dtype=dtype) for W in est.coefs_]
    est.intercepts_ = [np.zeros(b.shape, dtype=dtype) for b in est.intercepts_]
    as_float = copy.deepcopy(est)
    as_float.coefs_ = [W.astype(float) for W in est.coefs_]
    as_float.intercepts_ = [b.astype(float) for b in est.intercepts_]
    assert_allclose(est.predict(X), as_float.predict(X), rtol=1e-12)  # predict accepts them
    try:
        est.partial_fit(X, y)
    except (ValueError, TypeError) as error:
        assert "coefs_" in str(error) or "intercepts_" in str(error), str(error)
        return
    as_float.partial_fit(X, y)
    assert_same_model(est, as_float, rtol=1e-12)


def test_non_finite_outputs_of_a_custom_activation_at_predict_are_not_a_class():
    """NaN weights get an error (above); NaN outputs must not become classes_[0] either."""
    X, y = classification_data()
    clf = FNNClassifier((5,), activation=NanBeyondFive(), solver="lbfgs", max_iter=30,
                        random_state=0).fit(X, y)
    # L-BFGS stopped on a line search into the NaN region; loss_ is that of the weights it
    # kept (scipy reports its last trial's NaN), recomputed by hand: log-loss + α‖W‖²/2n.
    p = forward_by_hand(X, clf.coefs_, clf.intercepts_, NanBeyondFive().forward,
                        expit).ravel()
    log_loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    penalty = 0.5 * clf.alpha * sum((W**2).sum() for W in clf.coefs_) / len(X)
    assert clf.loss_ == pytest.approx(log_loss + penalty, rel=1e-10)
    far = X * 100
    with np.errstate(invalid="ignore"):
        by_hand = forward_by_hand(far, clf.coefs_, clf.intercepts_, NanBeyondFive().forward,
                                  expit)
    assert np.isnan(by_hand).any()  # the premise: this network's outputs are NaN there
    with pytest.raises(ValueError, match="non-finite|nan"), np.errstate(invalid="ignore"):
        clf.predict(far)



"""Weight initialisation: each scheme's statistics against its formula, orthogonal
weights, and a callable init that sees the documented arguments."""

from unittest import mock

import numpy as np
import pytest
from helpers import X_IRIS, XR, Y_IRIS, YR, quiet
from numpy.testing import assert_allclose, assert_array_equal

from skfnn import FNNClassifier, FNNRegressor, _fitting


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

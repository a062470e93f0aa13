"""Output activations beyond scikit-learn's: any loss with a softmax output, and
one-vs-rest logistic outputs for multiclass targets, checked against probabilities
recomputed from ``coefs_`` with numpy."""


import numpy as np
import pytest
from helpers import X_IRIS, Y_IRIS, hidden_output, quiet
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit, softmax

from skfnn import FNNClassifier, check_gradients, check_loss
from skfnn.activations import Softmax


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



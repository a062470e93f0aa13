"""A classifier's probabilities are probabilities: in [0, 1], rows summing to 1 where
the classes exclude each other, whatever the output activation, built-in or the
user's."""


import numpy as np
import pytest
from helpers import (
    SOLVERS,
    DeclaredLogistic,
    PlainLogistic,
    PlainSquaredError,
    SharpLogistic,
    TemperatureSoftmax,
    TwiceLogistic,
    assert_raises_and_stays_unfitted,
    classification_data,
    forward_by_hand,
    regression_data,
)
from numpy.testing import assert_allclose
from scipy.special import expit, softmax
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from skfnn import FNNClassifier, FNNRegressor, check_gradients

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# ======================================================================
# A classifier's probabilities are probabilities
# ======================================================================
UNBOUNDED_OUTPUTS = ["identity", "exp", "tanh", "relu", "softplus", "leaky_relu", "elu",
                     "gelu", "silu"]


@pytest.mark.parametrize("out", UNBOUNDED_OUTPUTS)
@pytest.mark.parametrize("target", ["binary", "multilabel", "multiclass"])
def test_classifier_rejects_outputs_that_are_not_probabilities(out, target):
    X, y = classification_data(n_classes=3 if target == "multiclass" else 2)
    if target == "multilabel":
        y = np.c_[y, 1 - y]
    assert_raises_and_stays_unfitted(FNNClassifier((4,), out_activation=out, max_iter=2),
                                     "fit", X, y,
                                     match=f"out_activation='{out}'.*not probabilities")


def test_classifier_rejects_an_undeclared_custom_output_and_says_how_to_declare():
    X, y = classification_data()
    with pytest.raises(ValueError, match=r"declares no output_range.*output_range = \(0\.0, "
                                         r"1\.0\)"):
        FNNClassifier((4,), out_activation=PlainLogistic(), max_iter=2).fit(X, y)


def test_classifier_accepts_a_declared_custom_output_and_its_probabilities_are_right():
    X, y = classification_data()
    params = dict(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=30, random_state=0)
    ours = FNNClassifier(out_activation=DeclaredLogistic(), **params).fit(X, y)
    builtin = FNNClassifier(**params).fit(X, y)
    p = forward_by_hand(X, ours.coefs_, ours.intercepts_, lambda z: np.maximum(z, 0),
                        expit).ravel()
    assert_allclose(ours.predict_proba(X), np.c_[1 - p, p], rtol=1e-12)
    assert_allclose(ours.predict_proba(X), builtin.predict_proba(X), rtol=1e-6, atol=1e-9)
    # Where 1 − p rounds to 0, the log-probability stays finite (log of the tiny float).
    assert_allclose(np.exp(ours.predict_log_proba(X)), ours.predict_proba(X), rtol=1e-10,
                    atol=1e-300)


@pytest.mark.parametrize("target", ["binary", "multiclass", "multilabel"])
def test_probabilities_are_probabilities_and_agree_with_log_probabilities(target):
    X, y = classification_data(n=80, n_classes=4 if target == "multiclass" else 2)
    if target == "multilabel":
        y = np.c_[y, X[:, 0] > 0, X[:, 1] > 0].astype(int)
    clf = FNNClassifier((6,), solver="lbfgs", max_iter=40, random_state=0).fit(X, y)
    P = clf.predict_proba(X)
    assert P.shape == (80, 4 if target == "multiclass" else 2 if target == "binary" else 3)
    assert np.all((P >= 0) & (P <= 1))
    if target != "multilabel":
        assert_allclose(P.sum(axis=1), 1, rtol=1e-12)
    out = softmax if target == "multiclass" else expit
    by_hand = forward_by_hand(X, clf.coefs_, clf.intercepts_, lambda z: np.maximum(z, 0),
                              lambda z: out(z, axis=1) if out is softmax else out(z))
    assert_allclose(P, np.c_[1 - by_hand, by_hand] if target == "binary" else by_hand,
                    rtol=1e-12)
    # They agree to the rounding of 1 − p (predict_log_proba is the more exact of the two).
    assert_allclose(np.exp(clf.predict_log_proba(X)), P, rtol=1e-10, atol=1e-15)


def test_a_logistic_subclass_with_a_wider_range_is_not_taken_for_probabilities():
    """The inherited output_range=(0, 1) of Logistic is not TwiceLogistic's (0, 2).

    Either the classifier refuses it (the range is not inherited by a subclass that
    redefines forward, as the fast paths are not), or its probabilities lie in [0, 1].
    """
    X, y = classification_data()
    try:
        clf = FNNClassifier((4,), out_activation=TwiceLogistic(), solver="lbfgs",
                            max_iter=30, random_state=0).fit(X, y)
    except ValueError as error:
        assert "output_range" in str(error)
        return
    P = clf.predict_proba(X)
    assert np.all((P >= 0) & (P <= 1)), f"predict_proba in [{P.min():.3f}, {P.max():.3f}]"


def test_log_probabilities_of_a_logistic_subclass_agree_with_its_probabilities():
    X, y = classification_data()
    clf = FNNClassifier((4,), out_activation=SharpLogistic(), solver="lbfgs", max_iter=30,
                        random_state=0).fit(X, y)
    p = forward_by_hand(X, clf.coefs_, clf.intercepts_, lambda z: np.maximum(z, 0),
                        lambda z: expit(3 * z)).ravel()
    assert_allclose(clf.predict_proba(X), np.c_[1 - p, p], rtol=1e-12)
    assert_allclose(np.exp(clf.predict_log_proba(X)), clf.predict_proba(X), rtol=1e-8)


def test_a_softmax_subclass_either_works_or_gets_a_clear_error():
    X, y = classification_data(n_classes=3)
    try:
        clf = FNNClassifier((4,), out_activation=TemperatureSoftmax(), solver="lbfgs",
                            max_iter=20, random_state=0).fit(X, y)
    except (ValueError, TypeError) as error:
        assert "TemperatureSoftmax" in str(error) or "softmax" in str(error)
        return
    p = forward_by_hand(X, clf.coefs_, clf.intercepts_, lambda z: np.maximum(z, 0),
                        lambda z: softmax(z / 2, axis=1))
    assert_allclose(clf.predict_proba(X), p, rtol=1e-12)
    assert check_gradients(clf, X, y).passed


# ----------------------------------------------------------------------
# Issue 18, item 5: the contract beyond shapes, and after the first step
# ----------------------------------------------------------------------
class SignFlippedDelta(PlainSquaredError):
    """½‖a − y‖² whose gradient is right but whose δ^L has the wrong sign."""

    def delta(self, y, z, a, activation):
        return -super().delta(y, z, a, activation)


class PlainCrossEntropy:
    """−Σ_k y_k log a_k with a softmax output; ``sign`` = −1 gives δ^L = y − a (wrong)."""

    def __init__(self, sign=1.0):
        self.sign = sign

    def __call__(self, y, a, sample_weight=None):
        per_sample = -(y * np.log(a)).sum(axis=1)
        return np.average(per_sample, weights=sample_weight)

    def gradient(self, y, a):
        return -y / a

    def delta(self, y, z, a, activation):  # the canonical simplification for softmax
        return self.sign * (a - y)

    def __repr__(self):
        return f"PlainCrossEntropy(sign={self.sign})"


@pytest.mark.parametrize("solver", SOLVERS)
def test_a_delta_of_the_wrong_sign_is_named_at_the_first_step(solver):
    X, y = regression_data()
    est = FNNRegressor((4,), loss=SignFlippedDelta(), solver=solver, max_iter=20,
                       random_state=0)
    with pytest.raises(ValueError) as error:
        est.fit(X, y)
    message = str(error.value)
    for part in ("SignFlippedDelta", "delta(y, z, a, activation)", "gradient(y, a)",
                 "derivative(z, a)"):
        assert part in message, (part, message)
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


def test_a_softmax_delta_is_checked_against_the_jacobian_product():
    X, y = classification_data(n=60, n_classes=3)
    params = dict(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=30, random_state=0)
    with pytest.raises(ValueError, match=r"PlainCrossEntropy\(sign=-1.0\).*delta.*vjp"):
        FNNClassifier(loss=PlainCrossEntropy(sign=-1.0), out_activation="softmax",
                      **params).fit(X, y)
    # The right simplification a − y is the Jacobian product up to rounding: accepted, and
    # the model is the built-in log-loss's.
    ours = FNNClassifier(loss=PlainCrossEntropy(), out_activation="softmax", **params)
    ref = FNNClassifier(**params).fit(X, y)
    assert_allclose(ours.fit(X, y).predict_proba(X), ref.predict_proba(X), rtol=1e-6,
                    atol=1e-9)


class ShapeShifter:
    """tanh that returns one column instead of all from its ``at``-th forward call."""

    def __init__(self, at):
        self.at, self.calls = at, 0

    def forward(self, z):
        self.calls += 1
        a = np.tanh(z)
        return a[:, :1] if self.calls >= self.at else a

    def derivative(self, z, a):
        return 1 - a**2

    def __repr__(self):
        return f"ShapeShifter(at={self.at})"


@pytest.mark.parametrize("solver", SOLVERS)
def test_a_wrong_shape_after_the_first_step_names_the_object(solver):
    """The 4th forward call broke a matrix product deep in the engine: numpy's words
    (matmul, core dimension) named nothing of the user's."""
    X, y = regression_data()
    est = FNNRegressor((3, 3), activation=ShapeShifter(at=4), solver=solver, batch_size=20,
                       max_iter=10, random_state=0)
    with pytest.raises(ValueError) as error:
        est.fit(X, y)
    message = str(error.value)
    rows = 60 if solver == "lbfgs" else 20  # a batch
    for part in ("ShapeShifter(at=4)", "forward(z)", f"({rows}, 1)", f"({rows}, 3)"):
        assert part in message, (part, message)
    assert isinstance(error.value.__cause__, ValueError)  # numpy's error, kept as the cause
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


class TwiceTanhDeclaringProbabilities:
    """2·tanh(z), declaring output_range=(0, 1): a false declaration."""

    output_range = (0.0, 1.0)

    def forward(self, z):
        return 2 * np.tanh(z)

    def derivative(self, z, a):
        return 2 - a**2 / 2

    def __repr__(self):
        return "TwiceTanhDeclaringProbabilities()"


def test_outputs_outside_the_declared_range_are_not_probabilities():
    """predict_proba was in [−2, 3] for an output activation that lied about its range."""
    X, y = classification_data()
    clf = FNNClassifier((4,), solver="lbfgs", max_iter=30, random_state=0).fit(X, y)
    clf._net = clf._net.replace(sigmas=[*clf._net.sigmas[:-1],
                                        TwiceTanhDeclaringProbabilities()])
    A = forward_by_hand(X, clf.coefs_, clf.intercepts_, lambda z: np.maximum(z, 0),
                        lambda z: 2 * np.tanh(z))
    assert A.min() < 0 or A.max() > 1  # the premise: the outputs are no probabilities
    for method in ("predict_proba", "predict_log_proba", "predict"):
        with pytest.raises(ValueError, match=r"TwiceTanhDeclaringProbabilities.*"
                                             r"output_range.*\[0, 1\]"):
            getattr(clf, method)(X)


def test_a_false_output_range_is_caught_when_training_starts():
    X, y = classification_data()
    clf = FNNClassifier((4,), out_activation=TwiceTanhDeclaringProbabilities(), max_iter=5,
                        random_state=0)
    with pytest.raises(ValueError, match=r"TwiceTanhDeclaringProbabilities.*forward\(z\).*"
                                         r"output_range"):
        clf.fit(X, y)



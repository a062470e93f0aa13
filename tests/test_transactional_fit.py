"""A failed fit changes nothing: whatever raises during fit or partial_fit (the data,
a user object, a callback at any hook point, a divergence), the estimator is exactly as
it was; Ctrl-C keeps the partly trained model with a warning, as scikit-learn does."""

import copy

import numpy as np
import pytest
from helpers import (
    SOLVERS,
    STOCHASTIC,
    Bomb,
    PlainSquaredError,
    assert_equal_state,
    assert_failed_call_changed_nothing,
    assert_same_model,
    assert_unchanged,
    classification_data,
    forward_by_hand,
    regression_data,
    snapshot,
    squared_error_objective,
)
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from skfnn import FNNClassifier, FNNRegressor
from skfnn._sklearn_compat import HAS_CALLBACKS

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")




def warm_started(solver, activation, early_stopping=False):
    X, y = regression_data()
    est = FNNRegressor((5,), activation=activation, solver=solver, max_iter=4,
                       batch_size=20, warm_start=True, early_stopping=early_stopping,
                       validation_fraction=0.2, learning_rate_init=0.01, random_state=0)
    return est.fit(X, y), X, y


@pytest.mark.parametrize("Estimator", [FNNRegressor, FNNClassifier])
@pytest.mark.parametrize("solver", SOLVERS)
def test_a_fit_from_scratch_that_fails_leaves_the_estimator_unfitted(Estimator, solver):
    X, y = classification_data()
    est = Estimator((5,), activation=Bomb(at=4), solver=solver, max_iter=10, batch_size=20,
                    random_state=0)
    params = dict(vars(est))
    with pytest.raises(RuntimeError, match="bomb at forward call 4"):
        est.fit(X, y)
    assert vars(est) == params
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


@pytest.mark.parametrize("solver, early_stopping", [
    ("sgd", False), ("adam", False), ("lbfgs", False), ("sgd", True), ("adam", True)])
def test_a_failed_warm_start_restores_everything_then_training_continues_exactly(
        solver, early_stopping):
    est, X, y = warm_started(solver, Bomb(), early_stopping)
    untouched = copy.deepcopy(est)
    before = snapshot(est)
    est.activation.at = est.activation.calls + 5  # in the second epoch of the next fit
    with pytest.raises(RuntimeError, match="bomb"):
        est.fit(X, y)
    assert_unchanged(est, before)
    est.activation.at = untouched.activation.at = None
    for a in (est, untouched):
        a.fit(X, y)
    assert_same_model(est, untouched)
    assert est.loss_curve_ == untouched.loss_curve_
    assert est.n_iter_ == untouched.n_iter_ and est.t_ == untouched.t_


@pytest.mark.parametrize("solver", STOCHASTIC)
@pytest.mark.parametrize("Estimator", [FNNRegressor, FNNClassifier])
def test_a_failed_partial_fit_restores_everything_then_training_continues_exactly(
        solver, Estimator):
    X, y = classification_data()
    est = Estimator((5,), activation=Bomb(), solver=solver, batch_size=20, random_state=0)
    first = dict(classes=[0, 1]) if Estimator is FNNClassifier else {}
    est.partial_fit(X, y, **first)
    est.partial_fit(X, y)
    untouched = copy.deepcopy(est)
    before = snapshot(est)
    est.activation.at = est.activation.calls + 2  # the third minibatch
    with pytest.raises(RuntimeError, match="bomb"):
        est.partial_fit(X, y)
    assert_unchanged(est, before)
    est.activation.at = untouched.activation.at = None
    for a in (est, untouched):
        a.partial_fit(X, y)
    assert_same_model(est, untouched)
    assert vars(est._optimizer).keys() == vars(untouched._optimizer).keys()
    for k, v in vars(untouched._optimizer).items():
        assert_equal_state(vars(est._optimizer)[k], v, f"_optimizer.{k}")


def test_a_failed_first_partial_fit_of_a_classifier_leaves_no_classes():
    X, y = classification_data()
    est = FNNClassifier((5,), activation=Bomb(at=1))
    with pytest.raises(RuntimeError):
        est.partial_fit(X, y, classes=[0, 1])
    assert not hasattr(est, "classes_") and not hasattr(est, "coefs_")
    est.activation.at = None
    est.partial_fit(X, y, classes=[0, 1])  # the first call is the first call again
    assert_array_equal(est.classes_, [0, 1])


def test_a_failed_refit_keeps_the_previous_model():
    X, y = regression_data()
    est = FNNRegressor((5,), activation=Bomb(), solver="lbfgs", max_iter=10,
                       random_state=0).fit(X, y)
    prediction = est.predict(X)
    before = snapshot(est)
    est.activation.at = est.activation.calls + 3
    with pytest.raises(RuntimeError):
        est.fit(X[:30], y[:30])  # warm_start=False: a fresh fit on other data
    assert_unchanged(est, before)
    assert_array_equal(est.predict(X), prediction)


def test_a_failed_fit_leaves_the_users_loss_curve_list_as_it_was():
    """The list object a user holds (est.loss_curve_) keeps its contents and stays the
    estimator's: "exactly as it was" includes the objects, not only equal copies."""
    est, X, y = warm_started("adam", Bomb())
    curve = est.loss_curve_
    length = len(curve)
    est.activation.at = est.activation.calls + 5
    with pytest.raises(RuntimeError):
        est.fit(X, y)
    assert len(curve) == length, f"the held list grew to {len(curve)} entries"
    assert est.loss_curve_ is curve


class _Failing:
    """Wraps the engine's loss_and_gradient to raise ``error`` on its ``at``-th call."""

    def __init__(self, at, error):
        from skfnn import _engine

        self.original, self.at, self.error, self.calls = _engine.loss_and_gradient, at, error, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.at:
            raise self.error()
        return self.original(*args, **kwargs)


@pytest.mark.parametrize("solver", SOLVERS)
def test_memory_error_mid_fit_restores_everything(solver, monkeypatch):
    from skfnn import _engine

    est, X, y = warm_started(solver, "relu")
    untouched = copy.deepcopy(est)
    before = snapshot(est)
    monkeypatch.setattr(_engine, "loss_and_gradient", _Failing(4, MemoryError))
    with pytest.raises(MemoryError):
        est.fit(X, y)
    assert_unchanged(est, before)
    monkeypatch.undo()
    est.fit(X, y)
    untouched.fit(X, y)
    assert_same_model(est, untouched)


@pytest.mark.parametrize("solver", SOLVERS)
def test_memory_error_in_a_fit_from_scratch_leaves_it_unfitted(solver, monkeypatch):
    from skfnn import _engine

    X, y = regression_data()
    monkeypatch.setattr(_engine, "loss_and_gradient", _Failing(3, MemoryError))
    est = FNNRegressor((5,), solver=solver, batch_size=20, max_iter=5)
    with pytest.raises(MemoryError):
        est.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


@pytest.mark.parametrize("solver", STOCHASTIC)
def test_keyboard_interrupt_keeps_the_model_of_the_steps_that_ran(solver):
    X, y = regression_data()
    params = dict(hidden_layer_sizes=(5,), solver=solver, batch_size=10, shuffle=False,
                  learning_rate_init=0.01, random_state=0)
    # 6 minibatches per epoch: the 15th forward call is the third step of epoch 3.
    est = FNNRegressor(activation=Bomb(at=15, error=KeyboardInterrupt), max_iter=50, **params)
    with pytest.warns(UserWarning, match="Training interrupted by user."):
        est.fit(X, y)
    assert est.n_iter_ == len(est.loss_curve_) == 2
    # The same 14 steps another way: two epochs, then an epoch of two minibatches.
    ref = FNNRegressor(activation="tanh", max_iter=2, **params).fit(X, y)
    ref.partial_fit(X[:20], y[:20])
    assert_same_model(est, ref, rtol=1e-12)
    by_hand = forward_by_hand(X, est.coefs_, est.intercepts_, np.tanh, lambda z: z)
    assert_allclose(est.predict(X), by_hand.ravel(), rtol=1e-12)


def test_keyboard_interrupt_in_lbfgs_keeps_the_last_completed_iterate():
    X, y = regression_data()
    est = FNNRegressor((5,), activation=Bomb(at=12, error=KeyboardInterrupt), solver="lbfgs",
                       alpha=0.01, max_iter=100, random_state=0)
    with pytest.warns(UserWarning, match="Training interrupted by user."):
        est.fit(X, y)
    assert 0 < est.n_iter_ == len(est.loss_curve_) < 12
    J = squared_error_objective(X, y, est.coefs_, est.intercepts_, 0.01)
    assert est.loss_curve_[-1] == pytest.approx(J, rel=1e-10)
    assert est.loss_ == pytest.approx(J, rel=1e-10)
    # The iterations that ran are those of an uninterrupted fit.
    ref = FNNRegressor((5,), activation="tanh", solver="lbfgs", alpha=0.01, max_iter=100,
                       random_state=0).fit(X, y)
    assert_allclose(est.loss_curve_, ref.loss_curve_[:est.n_iter_], rtol=1e-10)


# ----------------------------------------------------------------------
# Fault injection: every exception a fit raises, wherever it comes from
# ----------------------------------------------------------------------
class CallbackFault(Exception):
    """Raised by :class:`RaisingCallback`: no other code raises it."""


class RaisingCallback:
    """A scikit-learn FitCallback that raises :class:`CallbackFault` at one hook point.

    ``point`` is (hook, task, n): the n-th call of ``hook`` ("setup", "begin",
    "end", "teardown") for ``task`` ("root": the fit; "sub": an epoch or L-BFGS
    iteration; None for setup and teardown).
    """

    def __init__(self, point):
        self.point, self.seen = point, {}

    def _reached(self, hook, context=None):
        task = None if context is None else ("root" if context.parent is None else "sub")
        key = (hook, task)
        self.seen[key] = self.seen.get(key, 0) + 1
        if (hook, task, self.seen[key]) == self.point:
            raise CallbackFault(f"{self.point} reached")

    def setup(self, estimator, context):
        self._reached("setup")

    def teardown(self, estimator, context):
        self._reached("teardown")

    def on_fit_task_begin(self, estimator, context, **kwargs):
        self._reached("begin", context)

    def on_fit_task_end(self, estimator, context, **kwargs):
        self._reached("end", context)
        return False


_HOOK_POINTS = [("setup", None, 1), ("begin", "root", 1), ("begin", "sub", 1),
                ("end", "sub", 1), ("begin", "sub", 2), ("end", "sub", 2),
                ("end", "root", 1), ("teardown", None, 1)]


def _fault_cases():
    """(point, solver, method, start) for every hook point a call reaches."""
    cases = []
    for point in _HOOK_POINTS:
        for solver in SOLVERS:
            for method, starts in (("fit", ("fresh", "fitted", "warm_start")),
                                   ("partial_fit", ("fresh", "fitted"))):
                if method == "partial_fit" and (solver == "lbfgs" or point[2] > 1):
                    continue  # no partial_fit for L-BFGS; one epoch per partial_fit call
                cases += [(point, solver, method, start) for start in starts]
    return cases


def _started(Estimator, solver, method, start, X, y):
    """A fresh estimator, or one already fitted (by ``method``), for the fault cases."""
    est = Estimator((4,), solver=solver, max_iter=3, batch_size=20,
                    warm_start=start == "warm_start", random_state=0)
    first = {"classes": [0, 1]} if Estimator is FNNClassifier and method == "partial_fit" \
        else {}
    if start != "fresh":
        getattr(est, method)(X, y, **first)
    return est, first if start == "fresh" else {}


@pytest.mark.skipif(not HAS_CALLBACKS, reason="sklearn.callback needs scikit-learn >= 1.9")
@pytest.mark.parametrize("Estimator", [FNNRegressor, FNNClassifier])
@pytest.mark.parametrize("point, solver, method, start", _fault_cases(), ids=str)
def test_a_callback_raising_at_any_hook_point_leaves_the_estimator_as_it_was(
        Estimator, point, solver, method, start):
    """the root task's end and the teardown ran outside the rollback."""
    X, y = classification_data()
    est, first = _started(Estimator, solver, method, start, X, y)
    est.set_callbacks(RaisingCallback(point))
    est._fault_X = X[:5]  # plain state: it must survive too
    assert_failed_call_changed_nothing(est, lambda: getattr(est, method)(X, y, **first),
                                       CallbackFault, "reached")
    del est._fault_X
    # The same callback list, with nothing raising, trains as before the failure.
    est.set_callbacks(RaisingCallback(None))
    getattr(est, method)(X, y, **first)
    assert np.isfinite(est.loss_)


class CountingLoss(PlainSquaredError):
    """½‖a − y‖² raising RuntimeError on the ``at``-th call of ``method``."""

    def __init__(self, method, at):
        self.method, self.at, self.calls = method, at, 0

    def _count(self, method):
        if method == self.method:
            self.calls += 1
            if self.calls == self.at:
                raise RuntimeError(f"loss {method} failed at call {self.calls}")

    def __call__(self, y, a, sample_weight=None):
        self._count("__call__")
        return super().__call__(y, a, sample_weight)

    def gradient(self, y, a):
        self._count("gradient")
        return super().gradient(y, a)

    def delta(self, y, z, a, activation):
        self._count("delta")
        return super().delta(y, z, a, activation)


class FailingScorer:
    """A scoring callable that raises on its ``at``-th call."""

    def __init__(self, at):
        self.at, self.calls = at, 0

    def __call__(self, estimator, X, y, sample_weight=None):
        self.calls += 1
        if self.calls == self.at:
            raise RuntimeError(f"scorer failed at call {self.calls}")
        return -float(np.mean((estimator.predict(X) - y) ** 2))


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("start", ["fresh", "fitted", "warm_start"])
@pytest.mark.parametrize("fault", ["__call__", "gradient", "delta", "scorer"])
def test_a_fault_later_in_training_leaves_the_estimator_as_it_was(solver, start, fault):
    """A custom loss failing on its n-th call, or a scorer on its n-th epoch (X_val)."""
    X, y = regression_data()
    est = FNNRegressor((4,), solver=solver, max_iter=6, batch_size=20, tol=0,
                       n_iter_no_change=100, warm_start=start == "warm_start",
                       loss=CountingLoss(None, None), scoring=FailingScorer(None),
                       random_state=0)
    if start != "fresh":
        est.fit(X, y, X_val=X[:10], y_val=y[:10])
    est._fault_X = X[:5]
    if fault == "scorer":
        est.scoring.at = est.scoring.calls + 3
    else:
        est.loss.method, est.loss.calls, est.loss.at = fault, 0, 5
    assert_failed_call_changed_nothing(
        est, lambda: est.fit(X, y, X_val=X[:10], y_val=y[:10]), RuntimeError, "failed at")



"""scikit-learn's callback API (sklearn.callback) on skfnn's training hooks.

A recording callback of our own proves the exact sequence of hooks for every
solver, partial_fit, warm_start and early stopping; a stopping callback ends
each solver at the epoch it asks; ScoringMonitor's rows are checked against
scores recomputed by hand from the weights saved at each epoch; callbacks
propagate through Pipeline and GridSearchCV (with processes); and the
no-callback path trains the same model bit for bit.
"""

import importlib
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skfnn import FNNClassifier, FNNRegressor
from skfnn._sklearn_compat import HAS_CALLBACKS

# Every test but the last needs scikit-learn's callback API (scikit-learn >= 1.9); the
# last checks the clear error an older scikit-learn gives, and runs everywhere.
needs_callbacks = pytest.mark.skipif(not HAS_CALLBACKS,
                                     reason="sklearn.callback needs scikit-learn >= 1.9")

X, y = make_classification(n_samples=120, n_features=5, n_informative=3, n_classes=3,
                           random_state=0)
LABELS = np.array(["ant", "bee", "cat"])[y]  # string labels: hooks get them decoded
XR, YR = make_regression(n_samples=80, n_features=4, noise=1.0, random_state=0)
YR = YR / YR.std()
SOLVERS = ["sgd", "adam", "lbfgs"]


class Recorder:
    """A FitCallback that records every hook call, and may stop after an epoch."""

    def __init__(self, stop_at=None):
        self.stop_at = stop_at
        self.events = []

    def setup(self, estimator, context):
        self.events.append(("setup",))

    def teardown(self, estimator, context):
        self.events.append(("teardown",))

    def on_fit_task_begin(self, estimator, context, *, X=None, y=None, metadata=None,
                          fitted_estimator=None):
        self.events.append(self._event("begin", context, X, y, metadata, fitted_estimator))

    def on_fit_task_end(self, estimator, context, *, X=None, y=None, metadata=None,
                        fitted_estimator=None):
        self.events.append(self._event("end", context, X, y, metadata, fitted_estimator))
        return self.stop_at is not None and context.parent is not None \
            and context.task_id + 1 == self.stop_at

    @staticmethod
    def _event(hook, context, X, y, metadata, fitted):
        weights = None if fitted is None else [W.copy() for W in fitted.coefs_]
        return (hook, context.task_name, context.task_id, X is not None, y, metadata, weights)

    def calls(self):
        """(hook, task name, task id) of each begin/end, setup and teardown as they are."""
        return [e[:3] if len(e) > 1 else e for e in self.events]


def expected_calls(n_subtasks, name):
    tasks = [(hook, name, k) for k in range(n_subtasks) for hook in ("begin", "end")]
    return [("setup",), ("begin", "fit", 0), *tasks, ("end", "fit", 0), ("teardown",)]


def quiet_fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


@needs_callbacks
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_stochastic_fit_is_a_root_task_with_one_subtask_per_epoch(solver):
    recorder = Recorder()
    clf = FNNClassifier((6,), solver=solver, max_iter=4, n_iter_no_change=100,
                        random_state=0).set_callbacks(recorder)
    quiet_fit(clf, X, LABELS)
    assert clf.n_iter_ == 4
    assert recorder.calls() == expected_calls(4, "epoch")
    # Every hook sees the data as the user passed it: X, and y as labels.
    for event in recorder.events[1:-1]:
        assert event[3] is True
        assert event[4] is LABELS
        assert event[5] is None  # no sample weights: no metadata, as LogisticRegression


@needs_callbacks
def test_lbfgs_iterations_are_subtasks_plus_one_begun_and_never_run():
    recorder = Recorder()
    clf = FNNClassifier((6,), solver="lbfgs", max_iter=5, random_state=0).set_callbacks(recorder)
    quiet_fit(clf, X, y)
    assert clf.n_iter_ == 5
    assert recorder.calls() == expected_calls(6, "lbfgs-iter")
    # The sixth task is ended empty: nothing passed (it never ran).
    last_end = recorder.events[-3]
    assert last_end[:3] == ("end", "lbfgs-iter", 5) and last_end[3] is False


@needs_callbacks
def test_partial_fit_is_one_task_with_one_epoch():
    recorder = Recorder()
    reg = FNNRegressor((5,), random_state=0).set_callbacks(recorder)
    for _ in range(2):
        reg.partial_fit(XR, YR)
    assert recorder.calls() == expected_calls(1, "epoch") * 2


@needs_callbacks
def test_warm_start_begins_from_the_previous_weights():
    recorder = Recorder()
    reg = FNNRegressor((5,), max_iter=3, warm_start=True, n_iter_no_change=100,
                       random_state=0).set_callbacks(recorder)
    quiet_fit(reg, XR, YR)
    after_first = [W.copy() for W in reg.coefs_]
    recorder.events.clear()
    quiet_fit(reg, XR, YR)
    assert recorder.calls() == expected_calls(3, "epoch")
    first_epoch_begin = recorder.events[2]
    assert first_epoch_begin[:3] == ("begin", "epoch", 0)
    for W, saved in zip(first_epoch_begin[6], after_first, strict=True):
        assert_array_equal(W, saved)


@needs_callbacks
def test_early_stopping_epochs_and_the_restored_best_weights_at_the_end():
    recorder = Recorder()
    clf = FNNClassifier((6,), early_stopping=True, max_iter=60, n_iter_no_change=3,
                        random_state=0).set_callbacks(recorder)
    quiet_fit(clf, X, y)
    assert clf.n_iter_ < 60  # stopped early
    assert recorder.calls() == expected_calls(clf.n_iter_, "epoch")
    root_end = recorder.events[-2]
    assert root_end[:3] == ("end", "fit", 0)
    # The fitted estimator: the restored best.
    for W, best in zip(root_end[6], clf.coefs_, strict=True):
        assert_array_equal(W, best)


@needs_callbacks
def test_fitted_estimators_hold_copies_of_the_weights_at_that_epoch():
    recorder = Recorder()
    reg = FNNRegressor((5,), solver="sgd", max_iter=3, n_iter_no_change=100,
                       random_state=0).set_callbacks(recorder)
    quiet_fit(reg, XR, YR)
    ends = [e[6] for e in recorder.events if e[:2] == ("end", "epoch")]
    assert len(ends) == 3
    # Each epoch's weights differ from the next: no view that kept changing.
    assert not np.array_equal(ends[0][0], ends[1][0])
    assert_array_equal(ends[-1][0], reg.coefs_[0])
    # And they equal the weights of a fit that stopped at that epoch.
    for k, weights in enumerate(ends, start=1):
        short = quiet_fit(FNNRegressor((5,), solver="sgd", max_iter=k, n_iter_no_change=100,
                                       random_state=0), XR, YR)
        assert_array_equal(weights[0], short.coefs_[0])


@needs_callbacks
def test_metadata_carries_the_sample_weight():
    recorder = Recorder()
    sw = np.linspace(0.5, 2.0, len(YR))
    quiet_fit(FNNRegressor((5,), max_iter=2, random_state=0).set_callbacks(recorder), XR, YR,
              sample_weight=sw)
    for event in recorder.events[1:-1]:
        assert event[5]["sample_weight"] is sw


@needs_callbacks
@pytest.mark.parametrize("solver", SOLVERS)
def test_a_callback_stops_training_after_the_epoch_it_asks(solver):
    stop_at = 3
    recorder = Recorder(stop_at=stop_at)
    clf = FNNClassifier((6,), solver=solver, max_iter=50, n_iter_no_change=100,
                        random_state=0).set_callbacks(recorder)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # a requested stop does not warn
        clf.fit(X, y)
    assert clf.n_iter_ == stop_at
    assert len(clf.loss_curve_) == stop_at
    # Every task begun was ended, and no task began after the stop (lbfgs included).
    name = "lbfgs-iter" if solver == "lbfgs" else "epoch"
    assert recorder.calls() == expected_calls(stop_at, name)
    # The stopped model is the model of a fit with max_iter = stop_at.
    ref = quiet_fit(FNNClassifier((6,), solver=solver, max_iter=stop_at, n_iter_no_change=100,
                                  random_state=0), X, y)
    if solver == "lbfgs":  # scipy's last line search may differ at its own max_iter
        np.testing.assert_allclose(clf.loss_curve_, ref.loss_curve_, rtol=1e-12)
    else:
        for W, V in zip(clf.coefs_, ref.coefs_, strict=True):
            assert_array_equal(W, V)


def _accuracy_by_hand(coefs, intercepts, X, y):
    """relu hidden layers and a softmax output: argmax of the last layer's logits."""
    A = X
    for W, b in zip(coefs[:-1], intercepts[:-1], strict=True):
        A = np.maximum(A @ W + b, 0)
    return np.mean(np.argmax(A @ coefs[-1] + intercepts[-1], axis=1) == y)


class WeightSaver:
    """Saves the weights of the fitted estimator at the end of each epoch."""

    def __init__(self):
        self.saved = []

    def setup(self, estimator, context):
        pass

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if fitted_estimator is not None and context.parent is not None:  # not the empty task
            self.saved.append(([W.copy() for W in fitted_estimator.coefs_],
                               [b.copy() for b in fitted_estimator.intercepts_]))


@needs_callbacks
@pytest.mark.parametrize("solver", SOLVERS)
def test_scoring_monitor_logs_the_score_of_each_epochs_weights(solver):
    from sklearn.callback import ScoringMonitor

    monitor, saver = ScoringMonitor(scoring="accuracy"), WeightSaver()
    clf = FNNClassifier((8,), solver=solver, max_iter=6, n_iter_no_change=100,
                        random_state=0).set_callbacks(monitor, saver)
    quiet_fit(clf, X, y)
    log = monitor.get_logs().data
    epochs = sorted((row for row in log if len(row["task_id_path"]) == 2),
                    key=lambda row: row["task_id_path"])
    assert len(epochs) == clf.n_iter_ == len(saver.saved)
    for row, (coefs, intercepts) in zip(epochs, saver.saved, strict=True):
        assert row["accuracy"] == _accuracy_by_hand(coefs, intercepts, X, y)
    (root,) = [row for row in log if len(row["task_id_path"]) == 1]
    assert root["accuracy"] == clf.score(X, y)
    frame = monitor.get_logs().data_as_pandas  # the pandas log, as documented
    assert list(frame["accuracy"].iloc[1:]) == [row["accuracy"] for row in epochs]


@needs_callbacks
def test_progress_bar_on_the_estimator_and_inside_a_pipeline(capsys):
    pytest.importorskip("rich")  # the "progress" extra, installed by the "test" extra
    from sklearn.callback import ProgressBar

    quiet_fit(FNNClassifier((6,), max_iter=5, random_state=0).set_callbacks(ProgressBar()),
              X, y)
    out = capsys.readouterr().out
    assert "FNNClassifier - fit" in out and "100%" in out

    pipe = make_pipeline(StandardScaler(), FNNClassifier((6,), max_iter=5, random_state=0))
    quiet_fit(pipe.set_callbacks(ProgressBar()), X, y)
    out = capsys.readouterr().out
    assert "Pipeline - fit" in out
    assert "FNNClassifier - fit" in out  # propagated to the network step, not skipped
    assert "100%" in out


@needs_callbacks
def test_callbacks_propagate_through_grid_search_with_processes(capsys):
    pytest.importorskip("rich")
    from sklearn.callback import ProgressBar, ScoringMonitor

    monitor = ScoringMonitor(scoring="accuracy")
    pipe = make_pipeline(StandardScaler(), FNNClassifier((6,), max_iter=4, n_iter_no_change=100,
                                                         random_state=0).set_callbacks(monitor))
    search = GridSearchCV(pipe, {"fnnclassifier__alpha": [1e-4, 1e-1]}, cv=2, n_jobs=2)
    quiet_fit(search.set_callbacks(ProgressBar(max_propagation_depth=None)), X, y)
    out = capsys.readouterr().out
    assert "GridSearchCV - fit" in out
    # One bar per fit of the network: 2 candidates × 2 folds in the workers, and the refit.
    assert out.count("Pipeline - fit-final-estimator | FNNClassifier - fit") == 5
    rows = [row for log in monitor.get_logs(select="all") for row in log.data
            if row["task_name"] == "epoch"]
    # 2 candidates × 2 folds + the refit, 4 epochs each, scored in the workers.
    assert len(rows) == (2 * 2 + 1) * 4
    assert all(0 <= row["accuracy"] <= 1 for row in rows)


@needs_callbacks
@pytest.mark.parametrize("solver", SOLVERS)
def test_a_listening_callback_leaves_the_trained_model_bit_identical(solver):
    plain = quiet_fit(FNNClassifier((6,), solver=solver, max_iter=8, random_state=0), X, y)
    watched = quiet_fit(FNNClassifier((6,), solver=solver, max_iter=8, random_state=0)
                        .set_callbacks(Recorder(), WeightSaver()), X, y)
    for p, q in zip(plain.coefs_ + plain.intercepts_,
                    watched.coefs_ + watched.intercepts_, strict=True):
        assert_array_equal(p, q)
    assert plain.loss_curve_ == watched.loss_curve_
    assert plain.n_iter_ == watched.n_iter_


def test_without_callbacks_no_callback_state_is_created():
    clf = quiet_fit(FNNClassifier((6,), max_iter=3, random_state=0), X, y)
    assert not any(k.startswith(("_callback", "_skl_callbacks")) for k in vars(clf))


@needs_callbacks
def test_set_callbacks_rejects_what_is_not_a_callback():
    with pytest.raises(TypeError, match="FitCallback protocol"):
        FNNClassifier().set_callbacks(object())


def test_set_callbacks_needs_scikit_learn_1_9(monkeypatch):
    """With a scikit-learn that has no sklearn.callback, the stand-in says what is needed."""
    import skfnn._sklearn_compat as compat

    monkeypatch.setitem(sys.modules, "sklearn.callback", None)  # import fails
    try:
        stand_in = importlib.reload(compat)
        assert stand_in.HAS_CALLBACKS is False

        class Estimator(stand_in.CallbackSupportMixin):
            pass

        with pytest.raises(RuntimeError, match=r"needs scikit-learn's callback API.*1\.9"):
            Estimator().set_callbacks(Recorder())
        method = lambda self: 42  # noqa: E731
        assert stand_in.with_callbacks(method) is method
    finally:
        monkeypatch.undo()
        importlib.reload(compat)

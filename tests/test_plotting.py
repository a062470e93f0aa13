"""TrainingCurveDisplay against the fitted estimators' own curves.

The drawn lines must hold exactly ``loss_curve_``, ``validation_loss_curve_`` and
``validation_scores_`` at epochs 1..n; the marked epoch must be the one whose
weights early stopping restored (a refit stopped at that epoch reproduces the
weights); labels, axes, errors and the optional matplotlib import are checked
as the user sees them. Drawn with the Agg backend, every figure closed.
"""

import copy
import subprocess
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # the test extra installs matplotlib; no display needed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from helpers import docs_figure_script
from numpy.testing import assert_array_equal  # noqa: E402
from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import make_scorer, mean_squared_error  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skfnn import FNNClassifier, FNNRegressor, TrainingCurveDisplay  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
X, y = make_classification(n_samples=2000, weights=[0.95, 0.05], random_state=0)
XR, YR = make_regression(n_samples=300, n_features=5, noise=5.0, random_state=0)
YR = YR / YR.std()
EARLY = dict(hidden_layer_sizes=(16,), early_stopping=True, max_iter=200, random_state=0)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def early_stopped():
    return FNNClassifier(**EARLY).fit(X, y)


def epochs(n):
    return np.arange(1, n + 1)


def assert_line(line, values):
    """The line is drawn at epochs 1..len(values) with exactly these values."""
    assert_array_equal(line.get_xdata(), epochs(len(values)))
    assert_array_equal(line.get_ydata(), np.asarray(values, dtype=float))


def legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_lines_hold_the_estimators_curves(early_stopped):
    est = early_stopped
    display = TrainingCurveDisplay.from_estimator(est)
    assert len(est.loss_curve_) == est.n_iter_
    assert_array_equal(display.lines_["training_loss"].get_xdata(), epochs(est.n_iter_))
    assert_line(display.lines_["training_loss"], est.loss_curve_)
    assert_line(display.lines_["validation_loss"], est.validation_loss_curve_)
    assert_line(display.lines_["validation_score"], est.validation_scores_)
    # losses on ax_, the score on its twin, which spans the scores
    assert display.ax_.get_lines()[:2] == [display.lines_["training_loss"],
                                          display.lines_["validation_loss"]]
    assert display.score_ax_.get_lines() == [display.lines_["validation_score"]]
    assert display.ax_.get_shared_x_axes().joined(display.ax_, display.score_ax_)
    low, high = display.score_ax_.get_ylim()
    assert low <= min(est.validation_scores_) and max(est.validation_scores_) <= high
    assert display.figure_ is display.ax_.figure
    assert (display.ax_.get_xlabel(), display.ax_.get_ylabel()) == ("Epoch", "Loss")
    assert display.score_ax_.get_ylabel() == "Accuracy"


def test_marked_epoch_is_the_one_early_stopping_restored(early_stopped):
    est = early_stopped
    display = TrainingCurveDisplay.from_estimator(est)
    best = display.best_epoch
    scores = np.asarray(est.validation_scores_)
    assert best == np.flatnonzero(scores == scores.max())[0] + 1  # the first maximum
    assert scores[best - 1] == est.best_validation_score_
    assert list(display.best_epoch_line_.get_xdata()) == [best, best]
    assert legend_texts(display.ax_) == ["Training loss", "Validation loss",
                                         "Validation score (Accuracy)",
                                         f"Best epoch ({best}): weights restored"]
    # The same fit stopped after `best` epochs ends on that epoch's weights, which
    # early stopping restored in the full fit.
    assert best < est.n_iter_
    stopped = FNNClassifier(**{**EARLY, "max_iter": best}).fit(X, y)
    for restored, at_best in zip(est.coefs_ + est.intercepts_,
                                 stopped.coefs_ + stopped.intercepts_, strict=True):
        assert_array_equal(restored, at_best)


def test_validation_data_without_early_stopping_marks_no_epoch():
    est = FNNClassifier((8,), max_iter=15, random_state=0).fit(
        X[:1500], y[:1500], X_val=X[1500:], y_val=y[1500:])
    display = TrainingCurveDisplay.from_estimator(est)
    assert_line(display.lines_["validation_loss"], est.validation_loss_curve_)
    assert_line(display.lines_["validation_score"], est.validation_scores_)
    assert display.best_epoch is None and display.best_epoch_line_ is None


def test_without_validation_data_only_the_training_line():
    est = FNNRegressor((8,), max_iter=20, random_state=0).fit(XR, YR)
    display = TrainingCurveDisplay.from_estimator(est)
    assert est.validation_loss_curve_ is None and est.validation_scores_ is None
    assert display.ax_.get_lines() == [display.lines_["training_loss"]]
    assert_line(display.lines_["training_loss"], est.loss_curve_)
    assert display.lines_["validation_loss"] is None
    assert display.lines_["validation_score"] is None
    assert display.score_ax_ is None and display.best_epoch_line_ is None
    assert display.figure_.get_axes() == [display.ax_]  # no twin axis
    assert legend_texts(display.ax_) == ["Training loss"]


def test_lbfgs_counts_iterations_and_restores_nothing():
    est = FNNRegressor((8,), solver="lbfgs", early_stopping=True, max_iter=25,
                       random_state=0).fit(XR[:200], YR[:200], X_val=XR[200:], y_val=YR[200:])
    display = TrainingCurveDisplay.from_estimator(est)
    assert display.ax_.get_xlabel() == "Iteration"
    assert_array_equal(display.lines_["training_loss"].get_xdata(), epochs(est.n_iter_))
    assert_line(display.lines_["validation_loss"], est.validation_loss_curve_)
    assert display.score_ax_.get_ylabel() == "R²"
    # early_stopping does not apply to L-BFGS: its last iterate is the model
    assert display.best_epoch_line_ is None


def test_lbfgs_early_stopping_without_validation_data_has_no_validation_lines():
    est = FNNClassifier((8,), solver="lbfgs", early_stopping=True, max_iter=10,
                        random_state=0).fit(X, y)
    assert est.validation_scores_ == []  # as scikit-learn's MLP: set up, never filled
    display = TrainingCurveDisplay.from_estimator(est)
    assert display.ax_.get_lines() == [display.lines_["training_loss"]]
    assert display.score_ax_ is None and display.best_epoch_line_ is None


def test_scoring_loss_draws_the_validation_loss_once_and_marks_its_minimum():
    est = FNNClassifier(**EARLY, scoring="loss").fit(X, y)
    display = TrainingCurveDisplay.from_estimator(est)
    assert_array_equal(est.validation_scores_, -np.asarray(est.validation_loss_curve_))
    assert_line(display.lines_["validation_loss"], est.validation_loss_curve_)
    assert display.lines_["validation_score"] is None and display.score_ax_ is None
    assert display.best_epoch == np.argmin(est.validation_loss_curve_) + 1


@pytest.mark.parametrize("estimator, scoring, name", [
    (FNNClassifier, "balanced_accuracy", "Balanced accuracy"),
    (FNNClassifier, "neg_log_loss", "Negative log loss"),
    (FNNRegressor, make_scorer(mean_squared_error, greater_is_better=False),
     "Negative mean squared error"),
    (FNNRegressor, lambda est, X_, y_: -1.0, "Score"),
])
def test_score_axis_names_the_scoring(estimator, scoring, name):
    data = (X, y) if estimator is FNNClassifier else (XR, YR)
    est = estimator((8,), scoring=scoring, early_stopping=True, max_iter=5,
                    random_state=0).fit(*data)
    display = TrainingCurveDisplay.from_estimator(est)
    assert display.score_ax_.get_ylabel() == name
    assert_line(display.lines_["validation_score"], est.validation_scores_)
    named = TrainingCurveDisplay.from_estimator(est, score_name="My score")
    assert named.score_ax_.get_ylabel() == "My score"


def test_the_given_axes_are_used(early_stopped):
    fig, (left, right) = plt.subplots(1, 2)
    display = TrainingCurveDisplay.from_estimator(early_stopped, ax=right)
    assert display.ax_ is right and display.figure_ is fig
    assert display.lines_["training_loss"] in right.get_lines()
    assert left.get_lines() == []
    assert right.get_shared_x_axes().joined(right, display.score_ax_)


def test_style_keywords_override_the_defaults_aliases_included(early_stopped):
    display = TrainingCurveDisplay.from_estimator(
        early_stopped, training_loss_kw={"c": "red", "label": "fit"},
        validation_score_kw={"linestyle": "-"}, best_epoch_kw={"color": "black"})
    assert display.lines_["training_loss"].get_color() == "red"
    assert display.lines_["training_loss"].get_label() == "fit"
    assert display.lines_["validation_score"].get_linestyle() == "-"
    assert display.best_epoch_line_.get_color() == "black"


def test_a_pipeline_ending_in_an_fnn_estimator_is_read_through():
    pipe = make_pipeline(StandardScaler(), FNNClassifier(**EARLY)).fit(X, y)
    nested = make_pipeline(make_pipeline(StandardScaler(), FNNClassifier(**EARLY))).fit(X, y)
    for model in (pipe, nested):
        display = TrainingCurveDisplay.from_estimator(model)
        fnn = model[-1] if model is pipe else model[-1][-1]
        assert_line(display.lines_["training_loss"], fnn.loss_curve_)
        assert_line(display.lines_["validation_score"], fnn.validation_scores_)
        assert display.best_epoch == np.argmax(fnn.validation_scores_) + 1


def test_constructor_only_stores_and_plot_returns_the_display():
    display = TrainingCurveDisplay(loss_curve=[3.0, 2.0], validation_loss_curve=[4.0, 1.0],
                                   validation_scores=[0.5, 0.75], best_epoch=2,
                                   score_name="F1", epoch_name="Iteration")
    assert display.loss_curve == [3.0, 2.0] and display.best_epoch == 2
    assert not hasattr(display, "ax_") and not hasattr(display, "lines_")
    assert display.plot() is display
    assert_line(display.lines_["validation_score"], [0.5, 0.75])
    assert display.score_ax_.get_ylabel() == "F1"
    assert display.best_epoch_line_.get_label() == "Best iteration (2): weights restored"
    assert display.plot(score_name="Other").score_ax_.get_ylabel() == "Other"


def test_unfitted_estimators_are_refused():
    for unfitted in (FNNClassifier(), make_pipeline(StandardScaler(), FNNRegressor())):
        with pytest.raises(NotFittedError, match="not fitted"):
            TrainingCurveDisplay.from_estimator(unfitted)


def test_estimators_that_are_not_fnn_are_refused():
    logistic = LogisticRegression().fit(X, y)
    mlp = MLPClassifier((4,), max_iter=5, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="needs a fitted FNNClassifier or FNNRegressor, or "
                                         "a Pipeline ending in one; got LogisticRegression"):
        TrainingCurveDisplay.from_estimator(logistic)
    with pytest.raises(ValueError, match="got MLPClassifier"):
        TrainingCurveDisplay.from_estimator(mlp)
    with pytest.raises(ValueError, match="got Pipeline ending in LogisticRegression"):
        TrainingCurveDisplay.from_estimator(make_pipeline(StandardScaler(), logistic))


def test_validation_curves_that_miss_epochs_are_refused():
    """A warm start that adds validation data: which epochs the curves cover is unknown."""
    est = FNNClassifier((8,), warm_start=True, max_iter=5, random_state=0).fit(X, y)
    est.fit(X[:1500], y[:1500], X_val=X[1500:], y_val=y[1500:])
    assert (len(est.loss_curve_), len(est.validation_loss_curve_)) == (10, 5)
    with pytest.raises(ValueError, match="validation curves .* have 5 entries but "
                                         "loss_curve_ has 10"):
        TrainingCurveDisplay.from_estimator(est)


def test_warm_started_fits_with_validation_throughout_are_drawn_in_full():
    est = FNNClassifier((8,), warm_start=True, max_iter=5, random_state=0)
    for _ in range(2):
        est.fit(X[:1500], y[:1500], X_val=X[1500:], y_val=y[1500:])
    display = TrainingCurveDisplay.from_estimator(est)
    assert est.n_iter_ == 5 and len(est.loss_curve_) == 10
    assert_line(display.lines_["training_loss"], est.loss_curve_)
    assert_line(display.lines_["validation_score"], est.validation_scores_)


def test_nan_scores_are_never_the_restored_epoch(early_stopped):
    est = copy.deepcopy(early_stopped)
    n = len(est.loss_curve_)
    est.validation_scores_ = [np.nan] * 2 + [0.5] * (n - 3) + [0.75]
    assert TrainingCurveDisplay.from_estimator(est).best_epoch == n
    est.validation_scores_ = [np.nan] * n  # no epoch beat the initial weights
    assert TrainingCurveDisplay.from_estimator(est).best_epoch is None


def test_missing_matplotlib_names_the_plot_extra(monkeypatch, early_stopped):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` fails
    message = r'TrainingCurveDisplay\.{} requires matplotlib.*pip install "skfnn\[plot\]"'
    with pytest.raises(ImportError, match=message.format("from_estimator")):
        TrainingCurveDisplay.from_estimator(early_stopped)
    with pytest.raises(ImportError, match=message.format("plot")):
        TrainingCurveDisplay(loss_curve=[1.0]).plot()


def test_import_skfnn_does_not_import_matplotlib():
    code = "import sys, skfnn; print('matplotlib' in sys.modules, skfnn.TrainingCurveDisplay)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("False <class 'skfnn.plotting.TrainingCurveDisplay'>")


def test_the_docs_figure_script_renders_the_user_guide_figure(tmp_path):
    script = docs_figure_script("training_curve")
    path = tmp_path / "curve.png"
    display = script["main"](path)
    (width, height), dpi = script["SIZE_INCHES"], script["DPI"]
    assert plt.imread(path).shape[:2] == (height * dpi, width * dpi)
    assert display.best_epoch == np.argmax(display.validation_scores) + 1


@pytest.mark.parametrize("dpi", [80, 100])
def test_the_legend_covers_no_curve_and_every_label_is_inside_the_figure(early_stopped, dpi):
    """Rendered as saved (dpi 80 clipped the right axis's label and the legend sat on the
    validation score): every curve's points lie outside the legend's box, and both axes'
    labels and the legend lie inside the figure."""
    display = TrainingCurveDisplay.from_estimator(early_stopped)
    figure = display.figure_
    figure.set_dpi(dpi)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    legend = display.ax_.get_legend().get_window_extent(renderer)
    for line in filter(None, display.lines_.values()):
        points = line.get_transform().transform(line.get_xydata())
        assert not legend.count_contains(points), line.get_label()
    inside = figure.bbox
    for artist in (display.ax_.yaxis.label, display.score_ax_.yaxis.label,
                   display.ax_.xaxis.label, display.ax_.get_legend()):
        box = artist.get_window_extent(renderer)
        assert (box.x0 >= inside.x0 and box.x1 <= inside.x1 and box.y0 >= inside.y0
                and box.y1 <= inside.y1), (artist, box, inside)


@pytest.mark.parametrize("solver", ["adamw", "rmsprop"])
def test_every_stochastic_solver_is_drawn_per_epoch_with_its_best_epoch(solver):
    X, y = make_classification(n_samples=200, random_state=0)
    clf = FNNClassifier((8,), solver=solver, early_stopping=True, max_iter=30,
                        random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    display = TrainingCurveDisplay.from_estimator(clf)
    assert display.epoch_name == "Epoch"
    assert display.best_epoch == np.argmax(clf.validation_scores_) + 1
    plt.close("all")

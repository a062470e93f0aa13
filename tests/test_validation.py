"""Validation data, validation-loss curves, scoring and class weights (issue 10).

Every behaviour is checked against an independent computation: the
validation objective recomputed by hand from the weights of a fit stopped at
that epoch, the stopping rule replayed on the recorded curve, class_weight
against the explicit sample_weight scikit-learn would compute, and metadata
routing against a direct fit.
"""

import warnings

import numpy as np
import pytest
import sklearn
from sklearn.datasets import make_classification, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, balanced_accuracy_score, get_scorer
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight

from skfnn import FNNClassifier, FNNRegressor

XR, YR = make_regression(n_samples=150, n_features=5, noise=5.0, random_state=0)
YR = YR / YR.std()
XR_train, XR_val, YR_train, YR_val = train_test_split(XR, YR, random_state=0)
XC, YC = make_classification(n_samples=400, n_features=6, n_informative=4, n_classes=3,
                             weights=[0.7, 0.2, 0.1], random_state=0)
XC_train, XC_val, YC_train, YC_val = train_test_split(XC, YC, random_state=0, stratify=YC)


def quiet(fit, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit(*args, **kwargs)


def same_weights(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a.coefs_ + a.intercepts_,
                                                    b.coefs_ + b.intercepts_, strict=True))


def objective_by_hand(est, X, Y, sample_weight, m):
    """½ Σ_k (a_k − y_k)², weighted mean over samples, + α ‖W‖² / (2 m): relu network."""
    A = X
    for W, b in zip(est.coefs_[:-1], est.intercepts_[:-1], strict=True):
        A = np.maximum(A @ W + b, 0)
    out = A @ est.coefs_[-1] + est.intercepts_[-1]
    per_sample = 0.5 * ((out - Y.reshape(len(Y), -1)) ** 2).sum(axis=1)
    data = np.average(per_sample, weights=sample_weight)
    return data + est.alpha * sum((W ** 2).sum() for W in est.coefs_) / (2 * m)


# ----------------------------------------------------------------------
# Curves
# ----------------------------------------------------------------------
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_validation_loss_curve_is_the_objective_at_each_epochs_weights(solver, weighted):
    params = dict(hidden_layer_sizes=(6,), solver=solver, alpha=0.5, batch_size=25,
                  n_iter_no_change=100, random_state=0)
    sw = np.linspace(0.5, 2.0, len(YR_train)) if weighted else None
    sw_val = np.linspace(2.0, 1.0, len(YR_val)) if weighted else None
    est = quiet(FNNRegressor(max_iter=5, **params).fit, XR_train, YR_train, sw, X_val=XR_val,
                y_val=YR_val, sample_weight_val=sw_val)
    assert len(est.validation_loss_curve_) == len(est.loss_curve_) == est.n_iter_ == 5
    # The L2 term carries m = Σ s of the training rows / the number of batches.
    n_batches = 1 if solver == "lbfgs" else -(-len(YR_train) // 25)
    m = (len(YR_train) if sw is None else sw.sum()) / n_batches
    for k in range(1, 6):
        # A fit stopped after epoch k has the weights the curve saw at epoch k.
        at_k = quiet(FNNRegressor(max_iter=k, **params).fit, XR_train, YR_train, sw)
        expected = objective_by_hand(at_k, XR_val, YR_val, sw_val, m)
        assert est.validation_loss_curve_[k - 1] == pytest.approx(expected, rel=1e-12)


def test_lbfgs_validation_loss_on_the_training_data_is_the_training_loss():
    """Computed exactly as loss_curve_: the same data gives the same curve."""
    est = quiet(FNNClassifier((8,), solver="lbfgs", alpha=0.1, max_iter=15, random_state=0).fit,
                XC_train, YC_train, X_val=XC_train, y_val=YC_train)
    np.testing.assert_allclose(est.validation_loss_curve_, est.loss_curve_, rtol=1e-12)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_validation_data_does_not_change_the_training(solver):
    params = dict(hidden_layer_sizes=(6,), solver=solver, max_iter=8, random_state=0)
    plain = quiet(FNNClassifier(**params).fit, XC_train, YC_train)
    watched = quiet(FNNClassifier(**params).fit, XC_train, YC_train, X_val=XC_val,
                    y_val=YC_val)
    assert same_weights(plain, watched)
    assert plain.loss_curve_ == watched.loss_curve_
    assert plain.validation_scores_ is None and plain.validation_loss_curve_ is None
    # The default score is accuracy, at each epoch's weights; the last one is the model's.
    assert watched.validation_scores_[-1] == watched.score(XC_val, YC_val)


def test_early_stopping_uses_x_val_instead_of_its_split():
    params = dict(hidden_layer_sizes=(6,), early_stopping=True, max_iter=40, random_state=0)
    est = quiet(FNNClassifier(**params).fit, XC_train, YC_train, X_val=XC_val, y_val=YC_val)
    # All training rows are trained on: the epochs' t_ counts them all.
    assert est.t_ == est.n_iter_ * len(YC_train)
    best = int(np.argmax(est.validation_scores_))
    assert est.best_validation_score_ == est.validation_scores_[best]
    assert est.score(XC_val, YC_val) == est.best_validation_score_  # the best is restored
    # The internal split is used without X_val (scikit-learn's behaviour, unchanged).
    split = quiet(FNNClassifier(**params).fit, XC_train, YC_train)
    assert split.t_ < split.n_iter_ * len(YC_train)


def _replay_stopping(scores, tol, n_iter_no_change):
    """The epoch at which scikit-learn's early-stopping rule stops, on given scores."""
    best, count = -np.inf, 0
    for epoch, score in enumerate(scores, start=1):
        count = count + 1 if score < best + tol else 0
        best = max(best, score)
        if count > n_iter_no_change:
            return epoch
    return None


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_scoring_loss_stops_where_the_recorded_curve_says(solver):
    est = quiet(FNNRegressor((8,), solver=solver, early_stopping=True, scoring="loss",
                             learning_rate_init=0.05, n_iter_no_change=3, max_iter=300,
                             random_state=0).fit, XR, YR)
    # validation_scores_ is the negated validation loss, as HistGradientBoosting records it.
    assert est.validation_scores_ == [-loss for loss in est.validation_loss_curve_]
    stop = _replay_stopping(est.validation_scores_, est.tol, est.n_iter_no_change)
    assert stop is not None and est.n_iter_ == stop < 300
    assert est.best_validation_score_ == max(est.validation_scores_)


def test_a_scorer_name_or_callable_drives_early_stopping():
    for scoring in ("balanced_accuracy", get_scorer("balanced_accuracy")):
        est = quiet(FNNClassifier((8,), solver="lbfgs", max_iter=10, scoring=scoring,
                                  random_state=0).fit,
                    XC_train, YC_train, X_val=XC_val, y_val=YC_val)
        assert est.validation_scores_[-1] == balanced_accuracy_score(YC_val,
                                                                     est.predict(XC_val))
    est = quiet(FNNClassifier((8,), early_stopping=True, scoring="balanced_accuracy",
                              n_iter_no_change=2, max_iter=200, random_state=0).fit,
                XC_train, YC_train, X_val=XC_val, y_val=YC_val)
    assert est.n_iter_ == _replay_stopping(est.validation_scores_, est.tol, 2)
    assert est.best_validation_score_ == balanced_accuracy_score(YC_val, est.predict(XC_val))


def test_scorers_see_a_dataframe_x_val_with_its_column_names():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(XC_train, columns=[f"f{i}" for i in range(6)])
    frame_val = pd.DataFrame(XC_val, columns=frame.columns)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no "X does not have valid feature names"
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = FNNClassifier((6,), max_iter=3, scoring="accuracy", random_state=0).fit(
            frame, YC_train, X_val=frame_val, y_val=YC_val)
    assert est.validation_scores_[-1] == accuracy_score(YC_val, est.predict(frame_val))


def test_float32_training_keeps_float32_with_float64_validation_data():
    est = quiet(FNNRegressor((5,), max_iter=3, random_state=0).fit,
                XR_train.astype(np.float32), YR_train, X_val=XR_val, y_val=YR_val)
    assert all(W.dtype == np.float32 for W in est.coefs_)
    assert len(est.validation_loss_curve_) == 3


# ----------------------------------------------------------------------
# Class weights
# ----------------------------------------------------------------------
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("class_weight", ["balanced", {0: 1.0, 1: 3.0, 2: 7.5}])
@pytest.mark.parametrize("with_sample_weight", [False, True])
def test_class_weight_is_the_equivalent_sample_weight_bit_for_bit(class_weight, solver,
                                                                  with_sample_weight):
    params = dict(hidden_layer_sizes=(6,), solver=solver, max_iter=10, random_state=0)
    sw = np.linspace(0.2, 3.0, len(YC)) if with_sample_weight else None
    ours = quiet(FNNClassifier(class_weight=class_weight, **params).fit, XC, YC, sw)
    # As LogisticRegression folds them: balanced weights from the weighted class counts.
    table = compute_class_weight(class_weight, classes=np.unique(YC), y=YC, sample_weight=sw)
    explicit = table[YC] * (1.0 if sw is None else sw)
    ref = quiet(FNNClassifier(**params).fit, XC, YC, explicit)
    assert same_weights(ours, ref)
    assert ours.loss_curve_ == ref.loss_curve_


@pytest.mark.parametrize("class_weight", ["balanced", [{0: 1, 1: 2}, {0: 1, 1: 4}, {0: 2, 1: 1}]])
def test_multilabel_class_weight_is_compute_sample_weight(class_weight):
    X, Y = make_multilabel_classification(n_samples=120, n_features=5, n_classes=3,
                                          random_state=0)
    params = dict(hidden_layer_sizes=(6,), max_iter=5, random_state=0)
    ours = quiet(FNNClassifier(class_weight=class_weight, **params).fit, X, Y)
    ref = quiet(FNNClassifier(**params).fit, X, Y, compute_sample_weight(class_weight, Y))
    assert same_weights(ours, ref)
    with pytest.raises(ValueError, match="list with one dict"):
        FNNClassifier(class_weight={0: 1, 1: 2}).fit(X, Y)


def test_class_weight_balanced_raises_the_balanced_accuracy_on_imbalanced_data():
    X, y = make_classification(n_samples=2000, weights=[0.95, 0.05], random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    params = dict(hidden_layer_sizes=(16,), max_iter=100, random_state=0)
    plain = quiet(FNNClassifier(**params).fit, X_train, y_train)
    balanced = quiet(FNNClassifier(class_weight="balanced", **params).fit, X_train, y_train)
    assert (balanced_accuracy_score(y_test, balanced.predict(X_test))
            > balanced_accuracy_score(y_test, plain.predict(X_test)) + 0.03)


def test_partial_fit_takes_a_dict_and_refuses_balanced():
    weights = {0: 1.0, 1: 2.0, 2: 4.0}
    ours = FNNClassifier((6,), class_weight=weights, random_state=0)
    ref = FNNClassifier((6,), random_state=0)
    for chunk in np.array_split(np.arange(len(YC)), 3):
        ours.partial_fit(XC[chunk], YC[chunk], classes=[0, 1, 2])
        ref.partial_fit(XC[chunk], YC[chunk], classes=[0, 1, 2],
                        sample_weight=np.array([weights[c] for c in YC[chunk]]))
    assert same_weights(ours, ref)
    with pytest.raises(ValueError, match="'balanced' is not supported for partial_fit.*"
                                         "compute_class_weight"):
        FNNClassifier(class_weight="balanced").partial_fit(XC, YC, classes=[0, 1, 2])


def test_the_validation_score_uses_the_training_weighting():
    est = quiet(FNNClassifier((8,), solver="lbfgs", max_iter=10, class_weight="balanced",
                              random_state=0).fit, XC_train, YC_train, X_val=XC_val,
                y_val=YC_val)
    # The training set's balanced weights, applied to the validation rows.
    table = compute_class_weight("balanced", classes=np.unique(YC_train), y=YC_train)
    expected = accuracy_score(YC_val, est.predict(XC_val), sample_weight=table[YC_val])
    assert est.validation_scores_[-1] == pytest.approx(expected, rel=1e-12)
    assert est.validation_scores_[-1] != accuracy_score(YC_val, est.predict(XC_val))


# ----------------------------------------------------------------------
# Routing through meta-estimators
# ----------------------------------------------------------------------
def test_x_val_through_a_pipeline_and_grid_search_with_metadata_routing():
    with sklearn.config_context(enable_metadata_routing=True):
        fnn = FNNRegressor((6,), max_iter=5, random_state=0).set_fit_request(
            X_val=True, y_val=True)
        # transform_input: the pipeline scales X_val with the scaler fitted on X.
        pipe = Pipeline([("scale", StandardScaler()), ("fnn", fnn)], transform_input=["X_val"])
        quiet(pipe.fit, XR_train, YR_train, X_val=XR_val, y_val=YR_val)
        scaler = StandardScaler().fit(XR_train)
        direct = quiet(FNNRegressor((6,), max_iter=5, random_state=0).fit,
                       scaler.transform(XR_train), YR_train, X_val=scaler.transform(XR_val),
                       y_val=YR_val)
        assert pipe[-1].validation_loss_curve_ == direct.validation_loss_curve_
        search = GridSearchCV(pipe, {"fnn__alpha": [1e-4, 1.0]}, cv=2)
        quiet(search.fit, XR_train, YR_train, X_val=XR_val, y_val=YR_val)
        best = search.best_estimator_[-1]
        assert len(best.validation_loss_curve_) == best.n_iter_


# ----------------------------------------------------------------------
# Bad validation input
# ----------------------------------------------------------------------
@pytest.mark.parametrize("bad, match", [
    (dict(X_val=XC_val[:, :4], y_val=YC_val), "features"),
    (dict(X_val=XC_val, y_val=np.where(YC_val == 2, 7, YC_val)), r"classes \[.*7.*\] that are not"),
    (dict(X_val=np.where(XC_val > 1, np.nan, XC_val), y_val=YC_val), "NaN"),
    (dict(X_val=XC_val), "X_val and y_val must be given together"),
    (dict(y_val=YC_val), "X_val and y_val must be given together"),
    (dict(X_val=XC_val, y_val=YC_val[:-1]), "samples"),
    (dict(X_val=XC_val, y_val=YC_val, sample_weight_val=-np.ones(len(YC_val))), "sample_weight"),
    (dict(sample_weight_val=np.ones(3)), "without X_val"),
])
def test_bad_validation_input_gets_a_clear_error_and_changes_nothing(bad, match):
    est = FNNClassifier((4,), max_iter=2, random_state=0)
    with pytest.raises(ValueError, match=match):
        est.fit(XC_train, YC_train, **bad)
    assert not hasattr(est, "coefs_")


def test_regression_validation_targets_need_the_same_outputs():
    with pytest.raises(ValueError, match="y_val has 2 outputs but y has 1"):
        FNNRegressor((4,), max_iter=2).fit(XR_train, YR_train, X_val=XR_val,
                                           y_val=np.c_[YR_val, YR_val])

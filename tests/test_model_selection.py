"""StackedGridSearchCV against scikit-learn's GridSearchCV on the same grid and splits.

Every test runs both searches and compares what they found: ``cv_results_`` key by
key (all but the times, bit for bit; the ``param_*`` masked arrays by dtype, mask and
unmasked data), the best candidate, the refitted estimator's parameters and
predictions, and the warnings and errors of failing candidates. A recording wrapper
around ``skfnn._stack.fit_members`` shows which candidates were trained together.
"""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
from helpers import assert_same_model, classification_data, regression_data
from numpy.testing import assert_array_equal
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skfnn import FNNClassifier, FNNRegressor, StackedGridSearchCV, _stack

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FITTED = ("best_index_", "best_score_", "best_params_", "best_estimator_", "refit_time_",
          "multimetric_", "n_splits_", "scorer_", "feature_names_in_")
# 2 seeds × 2 α × 2 learning rates = 8 candidates in a group, for each non-stackable value.
STACKABLE_GRID = {"random_state": [0, 1], "alpha": [1e-4, 1e-1],
                  "learning_rate_init": [1e-3, 1e-2]}
GRIDS = {"regressor": {**STACKABLE_GRID, "hidden_layer_sizes": [(4,), (6,)]},
         "classifier": {**STACKABLE_GRID, "batch_size": [16, 32]}}


def data(kind):
    if kind == "regressor":
        return regression_data(n=60, n_features=5)
    return classification_data(n=90, n_classes=3)


def estimator(kind, **params):
    params = {"hidden_layer_sizes": (5,), "max_iter": 5, "random_state": 0, **params}
    return FNNRegressor(**params) if kind == "regressor" else FNNClassifier(**params)


def custom_score(est, X, y):
    """A callable scorer: mean probability of the true class, or minus the largest error."""
    if hasattr(est, "classes_"):
        proba = est.predict_proba(X)
        return float(proba[np.arange(len(y)), np.searchsorted(est.classes_, y)].mean())
    return -float(np.abs(est.predict(X) - y).max())


def two_scores(est, X, y):
    """A callable returning several metrics (scikit-learn's multimetric callable)."""
    return {"custom": custom_score(est, X, y), "default": est.score(X, y)}


STRING_SCORERS = {"regressor": "neg_mean_absolute_error", "classifier": "balanced_accuracy"}


@pytest.fixture
def stacked_groups(monkeypatch):
    """The (size, training rows, sample weights' length) of each group fit_members trains."""
    groups = []
    original = _stack.fit_members

    def recording(estimators, X, y, sample_weight=None):
        groups.append((len(estimators), X.shape[0],
                       None if sample_weight is None else len(sample_weight)))
        return original(estimators, X, y, sample_weight=sample_weight)

    monkeypatch.setattr(_stack, "fit_members", recording)
    return groups


def both(est, grid, X, y, fit_params=None, **search_params):
    """(StackedGridSearchCV, GridSearchCV), each fitted with the same arguments."""
    fit_params = fit_params or {}
    stacked = StackedGridSearchCV(est, grid, **search_params).fit(X, y, **fit_params)
    plain = GridSearchCV(est, grid, **search_params).fit(X, y, **fit_params)
    return stacked, plain


def assert_same_cv_results(got, expected):
    assert list(got) == list(expected)
    for key, value in expected.items():
        if key.endswith("_time"):  # measured, not computed: same shape, no less than 0
            assert got[key].shape == value.shape and (got[key] >= 0).all(), key
        elif key == "params":
            assert got[key] == value
        elif isinstance(value, np.ma.MaskedArray):
            assert isinstance(got[key], np.ma.MaskedArray), key
            assert got[key].dtype == value.dtype, key
            mask = np.ma.getmaskarray(value)
            assert_array_equal(np.ma.getmaskarray(got[key]), mask, err_msg=key)
            assert_array_equal(got[key].data[~mask], value.data[~mask], err_msg=key)
        else:
            assert got[key].dtype == value.dtype, key
            assert_array_equal(got[key], value, err_msg=key)


def assert_same_search(stacked, plain, X):
    assert_same_cv_results(stacked.cv_results_, plain.cv_results_)
    assert [hasattr(stacked, name) for name in FITTED] == [hasattr(plain, name)
                                                            for name in FITTED]
    for name in ("best_index_", "best_params_", "best_score_", "multimetric_", "n_splits_"):
        if hasattr(plain, name):
            assert getattr(stacked, name) == getattr(plain, name), name
    assert repr(stacked.scorer_) == repr(plain.scorer_)
    if hasattr(plain, "best_estimator_"):
        network = (lambda search: search.best_estimator_[-1]) if isinstance(
            plain.estimator, Pipeline) else (lambda search: search.best_estimator_)
        assert_same_model(network(stacked), network(plain))
        assert_array_equal(stacked.predict(X), plain.predict(X))
        if hasattr(plain, "classes_"):
            assert_array_equal(stacked.predict_proba(X), plain.predict_proba(X))


@pytest.mark.parametrize("scoring", ["default", "string", "callable"])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_same_search_as_gridsearchcv(kind, solver, scoring, stacked_groups):
    X, y = data(kind)
    scoring = {"default": None, "string": STRING_SCORERS[kind],
               "callable": custom_score}[scoring]
    stacked, plain = both(estimator(kind, solver=solver), GRIDS[kind], X, y, cv=3,
                          scoring=scoring, return_train_score=True)
    assert_same_search(stacked, plain, X)
    assert stacked.multimetric_ is False
    # Two groups of 8 (one per non-stackable value) on each of the 3 splits.
    assert [size for size, _, _ in stacked_groups] == [8] * 6
    # The candidates of a group share its fit time equally.
    results, name = stacked.cv_results_, next(iter(set(GRIDS[kind]) - set(STACKABLE_GRID)))
    for value in GRIDS[kind][name]:
        in_group = [params[name] == value for params in results["params"]]
        assert len(set(results["mean_fit_time"][in_group])) == 1


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_sample_weight_is_split_and_routed_to_fits_and_scorer(kind, stacked_groups):
    X, y = data(kind)
    weights = np.random.default_rng(0).uniform(0.1, 2.0, len(y))
    scoring = "r2" if kind == "regressor" else "accuracy"  # both take sample_weight
    cv = KFold(3, shuffle=True, random_state=0)
    stacked, plain = both(estimator(kind, solver="adam"), STACKABLE_GRID, X, y, cv=cv,
                          fit_params={"sample_weight": weights}, scoring=scoring)
    assert_same_search(stacked, plain, X)
    assert stacked_groups == [(8, len(y) * 2 // 3, len(y) * 2 // 3)] * 3
    unweighted = StackedGridSearchCV(estimator(kind, solver="adam"), STACKABLE_GRID, cv=cv,
                                     scoring=scoring).fit(X, y)
    assert (unweighted.cv_results_["mean_test_score"]
            != stacked.cv_results_["mean_test_score"]).any()


def test_groups_go_to_the_splitter():
    X, y = data("classifier")
    groups = np.arange(len(y)) % 5
    stacked, plain = both(estimator("classifier", solver="adam"), STACKABLE_GRID, X, y,
                          cv=GroupKFold(5), fit_params={"groups": groups})
    assert_same_search(stacked, plain, X)
    assert stacked.n_splits_ == 5


def failure_summary(caught):
    """For each FitFailedWarning: its count line and the last line of its error."""
    found = []
    for w in caught:
        if issubclass(w.category, FitFailedWarning):
            message = str(w.message)
            found.append((re.search(r"\d+ fits failed out of a total of \d+", message)[0],
                          message.strip().splitlines()[-1]))
    return found


def recorded(search, X, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search.fit(X, y)
    return caught


@pytest.mark.parametrize("error_score", [np.nan, -1.0])
def test_failing_candidates_get_error_score_and_the_others_their_own(error_score,
                                                                      stacked_groups):
    # learning_rate_init=1e3 makes SGD diverge (a ValueError): half of each group fails.
    X, y = data("regressor")
    grid = {"random_state": [0, 1], "learning_rate_init": [1e-2, 1e3],
            "hidden_layer_sizes": [(4,), (6,)]}
    est = estimator("regressor", solver="sgd")
    stacked = StackedGridSearchCV(est, grid, cv=3, error_score=error_score,
                                  return_train_score=True)
    plain = GridSearchCV(est, grid, cv=3, error_score=error_score, return_train_score=True)
    got, expected = recorded(stacked, X, y), recorded(plain, X, y)
    assert_same_search(stacked, plain, X)
    assert failure_summary(got) == failure_summary(expected)
    assert failure_summary(got)[0][0] == "12 fits failed out of a total of 24"
    assert "diverged" in failure_summary(got)[0][1]
    assert ([str(w.message) for w in got if w.category is UserWarning]
            == [str(w.message) for w in expected if w.category is UserWarning])
    assert [size for size, _, _ in stacked_groups] == [4] * 6


def test_error_score_raise_and_all_fits_failing_raise_as_gridsearchcv():
    X, y = data("regressor")
    est = estimator("regressor", solver="sgd")
    grid = {"random_state": [0, 1], "learning_rate_init": [1e-2, 1e3]}
    for search in (StackedGridSearchCV, GridSearchCV):
        with pytest.raises(ValueError, match="diverged"):
            search(est, grid, cv=3, error_score="raise").fit(X, y)
        with pytest.raises(ValueError, match="All the 6 fits failed"):
            search(est, {"random_state": [0, 1], "learning_rate_init": [1e3]}, cv=3).fit(X, y)


def on_final_step(grid, name):
    return {f"{name}__{param}": values for param, values in grid.items()}


def pre_processed(kind, solver):
    """A pipeline with a grid over its pre-steps: 2 groups of 8 candidates each."""
    if kind == "regressor":  # make_pipeline's names; n_components varies the pre-step
        est = make_pipeline(StandardScaler(), PCA(random_state=0),
                            estimator(kind, solver=solver))
        return est, {**on_final_step(STACKABLE_GRID, "fnnregressor"),
                     "pca__n_components": [3, 5]}
    columns = ColumnTransformer([("scaled", StandardScaler(), [0, 1, 2]),
                                 ("ranged", MinMaxScaler(), [3, 4])])
    est = Pipeline([("columns", columns), ("skip", "passthrough"),
                    ("net", estimator(kind, solver=solver))])
    return est, {**on_final_step(STACKABLE_GRID, "net"),
                 "columns__scaled": [StandardScaler(), "passthrough"]}


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_pipelines_are_stacked_on_their_final_step_as_gridsearchcv(kind, solver,
                                                                   stacked_groups):
    X, y = data(kind)
    est, grid = pre_processed(kind, solver)
    stacked, plain = both(est, grid, X, y, cv=3, return_train_score=True)
    assert_same_search(stacked, plain, X)
    assert [size for size, _, _ in stacked_groups] == [8] * 6
    # The final step of each candidate is a network stacked on the transformed rows.
    assert [rows for _, rows, _ in stacked_groups] == [len(y) * 2 // 3] * 6


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_pipelines_with_two_jobs_as_gridsearchcv(kind):
    X, y = data(kind)
    est, grid = pre_processed(kind, "adam")
    stacked, plain = both(est, grid, X, y, cv=3, n_jobs=2, return_train_score=True)
    assert_same_search(stacked, plain, X)


FITS = []


class RecordingScaler(TransformerMixin, BaseEstimator):
    """Standardizes X; records the number of rows of each fit in FITS."""

    def fit(self, X, y=None):
        FITS.append(len(X))
        self.mean_, self.scale_ = X.mean(axis=0), X.std(axis=0)
        return self

    def transform(self, X):
        return (X - self.mean_) / self.scale_


def test_a_groups_pre_steps_are_fitted_once_per_split():
    X, y = data("regressor")
    est = make_pipeline(RecordingScaler(), estimator("regressor", solver="adam"))
    grid = {**on_final_step(STACKABLE_GRID, "fnnregressor"),
            "fnnregressor__hidden_layer_sizes": [(4,), (6,)]}
    FITS.clear()
    plain = GridSearchCV(est, grid, cv=3).fit(X, y)
    assert FITS == [40] * 16 * 3 + [60]  # each candidate on each split, and the refit
    FITS.clear()
    stacked = StackedGridSearchCV(est, grid, cv=3).fit(X, y)
    assert FITS == [40] * 2 * 3 + [60]  # each group on each split, and the refit
    assert_same_search(stacked, plain, X)


def test_candidates_whose_final_step_is_not_a_network_are_fitted_alone(stacked_groups):
    X, y = data("regressor")
    est = make_pipeline(StandardScaler(), estimator("regressor", solver="adam"))
    grid = [on_final_step(STACKABLE_GRID, "fnnregressor"),
            {"fnnregressor": [Ridge(alpha=1.0), Ridge(alpha=10.0)]}]
    stacked, plain = both(est, grid, X, y, cv=3, refit=False)  # a Ridge is the best
    assert isinstance(plain.best_params_["fnnregressor"], Ridge)
    assert_same_search(stacked, plain, X)
    assert stacked_groups == [(8, 40, None)] * 3


@pytest.mark.parametrize("case", ["lbfgs", "multimetric", "pipeline_fit_parameter",
                                  "pipeline_memory"])
def test_searches_that_do_not_stack_are_gridsearchcv(case, stacked_groups, tmp_path):
    X, y = data("regressor")
    est, grid, params = estimator("regressor", solver="adam"), STACKABLE_GRID, {}
    fit_params = None
    if case == "lbfgs":
        est = estimator("regressor", solver="lbfgs")
    elif case == "multimetric":
        params = dict(scoring={"r2": "r2", "mae": "neg_mean_absolute_error"}, refit="mae")
    else:
        memory = str(tmp_path) if case == "pipeline_memory" else None
        est = make_pipeline(StandardScaler(), est, memory=memory)
        grid = on_final_step(grid, "fnnregressor")
        if case == "pipeline_fit_parameter":  # Pipeline.fit routes it to the network
            fit_params = {"fnnregressor__sample_weight": np.linspace(0.5, 1.5, len(y))}
    stacked, plain = both(est, grid, X, y, fit_params, cv=3, return_train_score=True,
                          **params)
    assert_same_search(stacked, plain, X)
    assert stacked_groups == []


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_two_jobs_give_the_results_of_one(kind):
    X, y = data(kind)
    search = StackedGridSearchCV(estimator(kind, solver="adam"), GRIDS[kind], cv=3,
                                 return_train_score=True)
    one = search.set_params(n_jobs=1).fit(X, y)
    one_results, one_prediction = one.cv_results_, one.predict(X)
    two = sklearn.clone(search).set_params(n_jobs=2, pre_dispatch=3).fit(X, y)
    assert_same_cv_results(two.cv_results_, one_results)
    assert_array_equal(two.predict(X), one_prediction)


def pick_last(results):
    """A refit callable: the last candidate."""
    return len(results["params"]) - 1


@pytest.mark.parametrize("refit", [False, pick_last])
def test_refit_false_and_callable_as_gridsearchcv(refit):
    X, y = data("classifier")
    stacked, plain = both(estimator("classifier", solver="adam"), STACKABLE_GRID, X, y, cv=3,
                          refit=refit)
    assert_same_search(stacked, plain, X)
    assert hasattr(stacked, "best_estimator_") is bool(refit)
    if refit:
        assert stacked.best_index_ == 7 and not hasattr(stacked, "best_score_")


def test_callable_returning_several_metrics_as_gridsearchcv():
    X, y = data("classifier")
    stacked, plain = both(estimator("classifier", solver="adam"), STACKABLE_GRID, X, y, cv=3,
                          scoring=two_scores, refit="custom", return_train_score=True)
    assert_same_search(stacked, plain, X)
    assert stacked.multimetric_ is True
    assert "rank_test_custom" in stacked.cv_results_


def test_grid_list_with_mixed_solvers_masks_parameters_as_gridsearchcv(stacked_groups):
    # param_* of the candidates that do not set a parameter are masked; L-BFGS alone.
    X, y = data("regressor")
    grid = [{"solver": ["lbfgs"], "alpha": [1e-4, 1e-1]},
            {"solver": ["adam"], "random_state": [0, 1], "learning_rate_init": [1e-3, 1e-2]},
            {"activation": ["tanh"], "random_state": [0, 1]}]
    stacked, plain = both(estimator("regressor", solver="adam"), grid, X, y, cv=3)
    assert_same_search(stacked, plain, X)
    assert np.ma.getmaskarray(stacked.cv_results_["param_alpha"]).sum() == 6
    assert sorted(size for size, _, _ in stacked_groups) == [2, 2, 2, 4, 4, 4]


def test_data_frames_keep_their_feature_names():
    X, y = data("classifier")
    X = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    stacked, plain = both(estimator("classifier", solver="sgd"), STACKABLE_GRID, X, y, cv=3)
    assert_same_search(stacked, plain, X)
    assert list(stacked.feature_names_in_) == list(X.columns)


def test_invalid_parameters_raise_as_gridsearchcv():
    X, y = data("regressor")
    for search in (StackedGridSearchCV, GridSearchCV):
        with pytest.raises(InvalidParameterError, match="scoring"):
            search(estimator("regressor"), STACKABLE_GRID, scoring="no-such-metric").fit(X, y)
        with pytest.raises(TypeError, match="Parameter grid"):
            search(estimator("regressor"), {"alpha": 1e-4}).fit(X, y)


class _SubclassedRegressor(FNNRegressor):
    pass


def test_the_reasons_not_to_stack():
    X, y = data("regressor")

    def reason(est=None, grid=STACKABLE_GRID, X=X, y=y, params=None, **search):
        est = estimator("regressor", solver="adam") if est is None else est
        return StackedGridSearchCV(est, grid, **search)._not_stacked_because(X, y, params or {})

    listening = estimator("regressor", solver="adam")
    listening._parent_callback_ctx = object()  # as a meta-estimator's callbacks leave it
    assert reason() is None
    assert reason(params={"sample_weight": None, "groups": None}) is None
    pipeline = make_pipeline(StandardScaler(), estimator("regressor", solver="adam"))
    pipeline_grid = on_final_step(STACKABLE_GRID, "fnnregressor")
    assert reason(pipeline, pipeline_grid) is None
    assert reason(pipeline, pipeline_grid, params={"groups": None}) is None
    assert reason(pipeline, pipeline_grid,
                  params={"sample_weight": None}).startswith("fit parameters other than groups")
    assert reason(make_pipeline(StandardScaler(), estimator("regressor"), memory="."),
                  pipeline_grid) == "the pipeline caches its transformers (memory)"
    assert reason(make_pipeline(StandardScaler(), Ridge())).startswith("the est")
    assert reason(make_pipeline(StandardScaler(), listening),
                  pipeline_grid) == "callbacks are set"
    assert reason(_SubclassedRegressor()).startswith("the estimator")
    assert reason(scoring=["r2"]) == "several metrics"
    assert reason(params={"X_val": X}).startswith("fit parameters")
    assert reason(listening) == "callbacks are set"
    assert reason(y=None).startswith("X and y")
    assert reason(estimator("regressor", solver="lbfgs")).startswith("no candidate")
    assert reason(grid={"alpha": 0.1}) == "the grid is not valid"
    with sklearn.config_context(enable_metadata_routing=True):
        assert reason() == "metadata routing is enabled"


def test_verbose_says_how_candidates_are_fitted(capsys):
    X, y = data("regressor")
    StackedGridSearchCV(estimator("regressor", solver="adam"), GRIDS["regressor"], cv=3,
                        verbose=1).fit(X, y)
    assert "16 candidates, totalling 48 fits, in 2 groups" in capsys.readouterr().out
    StackedGridSearchCV(estimator("regressor", solver="lbfgs"), STACKABLE_GRID, cv=3,
                        verbose=1).fit(X, y)
    assert "fitted alone (no candidate uses a stochastic solver)" in capsys.readouterr().out

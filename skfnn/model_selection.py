"""Grid search that trains the candidates of one architecture together.

:class:`StackedGridSearchCV` is scikit-learn's ``GridSearchCV`` for skfnn's
estimators: the same parameters, the same ``cv_results_``, the same best
candidate and refit. Candidates that differ only in ``random_state``,
``alpha`` or ``learning_rate_init`` (:data:`skfnn._stack.STACKABLE`) are
trained on each split as one group by :func:`skfnn._stack.fit_members`, each
member exactly as its own ``fit`` would train it, so that a search over seeds,
penalties and learning rates shares the fixed per-step cost of small networks
among its members. A pipeline ending in one of skfnn's estimators is stacked
on its final step, its earlier steps fitted once for a group.
"""

import time
from dataclasses import dataclass
from traceback import format_exc

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.model_selection import GridSearchCV, ParameterGrid, check_cv
from sklearn.pipeline import Pipeline
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import indexable

from . import _array_api, _stack
from ._classifier import FNNClassifier
from ._problem import STOCHASTIC_SOLVERS
from ._regressor import FNNRegressor
from ._sklearn_compat import (
    _check_method_params,
    _fit_context,
    _insert_error_scores,
    _MultimetricScorer,
    _num_samples,
    _routing_enabled,
    _safe_split,
    _score,
    _warn_or_raise_about_fit_failures,
)

__all__ = ["StackedGridSearchCV"]

# Exactly these classes: a subclass may train differently from what fit_members does.
_STACKED_ESTIMATORS = (FNNRegressor, FNNClassifier)


class StackedGridSearchCV(GridSearchCV):
    """Exhaustive search over a grid, candidates of one architecture trained together.

    A drop-in for scikit-learn's :class:`~sklearn.model_selection.GridSearchCV`
    for :class:`~skfnn.FNNRegressor` and :class:`~skfnn.FNNClassifier`: the
    same parameters, and the same ``cv_results_`` (keys, values, the
    ``param_*`` masked arrays), ``best_index_``, ``best_params_``,
    ``best_score_`` and ``best_estimator_``. What differs is how the
    candidates are trained: on each split, the candidates whose parameters
    differ only in ``random_state``, ``alpha`` or ``learning_rate_init`` form a
    group, trained together by skfnn's model axis; each member is the network
    its own ``fit`` would make, bit for bit. A grid of 4 seeds × 3 α × 2
    learning rates over 2 hidden-layer sizes makes 2 groups of 12 on each split.

    A :class:`~sklearn.pipeline.Pipeline` whose final step is one of these is
    stacked on its final step: the candidates that differ only in the final
    step's ``<name>__random_state``, ``<name>__alpha`` or
    ``<name>__learning_rate_init`` form a group, whose earlier steps are fitted
    once on each split (as ``Pipeline.fit`` fits them) and shared by its
    members, and whose final steps train together on the transformed rows.
    A grid over an earlier step's parameters makes one group for each of its
    values. (An earlier step drawing from the global random state,
    ``random_state=None``, thus draws once for a group where ``GridSearchCV``
    draws once for each candidate.) Candidates whose final step the grid
    replaces by another estimator are fitted one by one.

    The stacked search runs when the estimator is an ``FNNRegressor`` or an
    ``FNNClassifier`` (not a subclass) or a ``Pipeline`` (not a subclass, no
    ``memory``) ending in one, the scoring is a single metric (None, a scorer
    name or a callable), at least one candidate uses a stochastic solver
    ("sgd", "adam", "adamw", "rmsprop"), ``fit`` receives no parameter but
    ``sample_weight`` (not for a pipeline) and ``groups`` (for the splitter),
    metadata routing is off, no callback is set on the search, the estimator
    or a pipeline's steps, and X and y are in memory (numpy, lists, sparse
    matrices, data frames). Otherwise ``fit`` is ``GridSearchCV.fit`` itself
    (``verbose > 0`` says why). Candidates with the L-BFGS solver are fitted
    one by one.

    Parameters
    ----------
    estimator : FNNRegressor, FNNClassifier or Pipeline ending in one
        The estimator whose parameters are searched (any estimator is accepted:
        others are searched as ``GridSearchCV`` searches them).
    param_grid : dict or list of dicts
        Parameter names mapped to lists of values, or a list of such dicts, as
        in ``GridSearchCV``.
    scoring : str, callable, list, tuple or dict, default=None
        As in ``GridSearchCV``; several metrics (a list, tuple or dict) are
        searched by ``GridSearchCV.fit``.
    n_jobs : int, default=None
        Jobs run in parallel, each task training one group on one split.
    refit : bool, str or callable, default=True
        As in ``GridSearchCV``: refit the best candidate on the whole data.
    cv : int, cross-validation generator or iterable, default=None
        As in ``GridSearchCV`` (stratified folds for a classifier).
    verbose : int, default=0
        Above 0, one line on what is fitted; the per-fit lines of
        ``GridSearchCV`` are left out of the stacked search.
    pre_dispatch : int or str, default="2*n_jobs"
        As in ``GridSearchCV``, counted in tasks (a group on a split).
    error_score : "raise" or float, default=np.nan
        As in ``GridSearchCV``. When the fit of a group raises, its members are
        fitted one by one, so that only the candidates that fail alone get
        ``error_score`` (with a ``FitFailedWarning``); with "raise", the
        group's error is raised.
    return_train_score : bool, default=False
        As in ``GridSearchCV``.

    Attributes
    ----------
    cv_results_ : dict of numpy (masked) ndarrays
        As ``GridSearchCV``'s. The fit time of a group, divided equally among
        its members, is each member's ``split{k}`` fit time behind
        ``mean_fit_time`` and ``std_fit_time``; the score times are each
        candidate's own.
    best_estimator_ : estimator
        The best candidate refitted on the whole data (``refit=True``).
    best_score_ : float
        Mean cross-validated score of the best candidate.
    best_params_ : dict
        Parameters of the best candidate.
    best_index_ : int
        Index of the best candidate in ``cv_results_``.
    scorer_ : callable
        The scorer used on the held-out data.
    n_splits_ : int
        The number of cross-validation splits.
    refit_time_ : float
        Seconds of the refit on the whole data.
    multimetric_ : bool
        Whether the scorer returned several metrics (False for a string or None).
    classes_ : ndarray of shape (n_classes,)
        The class labels (classifier, ``refit=True``).
    n_features_in_ : int
        Number of features seen during fit (``refit=True``).
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during fit, when X has feature names.

    See Also
    --------
    sklearn.model_selection.GridSearchCV : The search this one reproduces.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skfnn import FNNRegressor
    >>> from skfnn.model_selection import StackedGridSearchCV
    >>> X, y = make_regression(n_samples=60, n_features=4, noise=0.1, random_state=0)
    >>> grid = {"hidden_layer_sizes": [(8,), (16,)], "random_state": [0, 1],
    ...         "alpha": [1e-4, 1e-2]}
    >>> est = FNNRegressor(max_iter=5)
    >>> search = StackedGridSearchCV(est, grid, cv=3).fit(X, y)
    >>> len(search.cv_results_["params"])
    8
    >>> plain = GridSearchCV(est, grid, cv=3).fit(X, y)
    >>> bool((search.cv_results_["mean_test_score"]
    ...       == plain.cv_results_["mean_test_score"]).all())
    True
    >>> search.best_params_ == plain.best_params_
    True

    A pipeline is stacked on its final step; here 2 groups of 4 on each split,
    one for each number of principal components:

    >>> from sklearn.decomposition import PCA
    >>> from sklearn.pipeline import make_pipeline
    >>> pipe = make_pipeline(PCA(random_state=0), FNNRegressor((8,), max_iter=5))
    >>> grid = {"pca__n_components": [2, 4], "fnnregressor__random_state": [0, 1],
    ...         "fnnregressor__alpha": [1e-4, 1e-2]}
    >>> search = StackedGridSearchCV(pipe, grid, cv=3).fit(X, y)
    >>> plain = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    >>> bool((search.cv_results_["mean_test_score"]
    ...       == plain.cv_results_["mean_test_score"]).all())
    True
    """

    def __init__(self, estimator, param_grid, *, scoring=None, n_jobs=None, refit=True,
                 cv=None, verbose=0, pre_dispatch="2*n_jobs", error_score=np.nan,
                 return_train_score=False):
        super().__init__(estimator, param_grid, scoring=scoring, n_jobs=n_jobs, refit=refit,
                         cv=cv, verbose=verbose, pre_dispatch=pre_dispatch,
                         error_score=error_score, return_train_score=return_train_score)

    def fit(self, X, y=None, **params):
        """Run fit with all sets of parameters, training each group of candidates together.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        **params : dict of str -> object
            ``sample_weight`` (split with X and passed to each fit, and to the
            scorer if it accepts it) and ``groups`` (passed to the splitter).
            Other parameters (any but ``groups`` for a pipeline), or metadata
            routing, make this ``GridSearchCV.fit``.

        Returns
        -------
        self : object
            The fitted search.
        """
        reason = self._not_stacked_because(X, y, params)
        if reason is not None:
            if self.verbose > 0:
                print(f"{type(self).__name__}: each candidate fitted alone ({reason})")
            return super().fit(X, y, **params)
        return self._fit_stacked(X, y, **params)

    def _not_stacked_because(self, X, y, params):
        """Why the stacked search does not apply to this fit; None when it does."""
        reason = _estimator_not_stacked_because(self.estimator, params)
        if reason is not None:
            return reason
        if not (self.scoring is None or isinstance(self.scoring, str)
                or callable(self.scoring)):
            return "several metrics"
        if _routing_enabled():
            return "metadata routing is enabled"
        if _listens(self):
            return "callbacks are set"
        if y is None or not _array_api.is_numpy(_array_api.array_namespace(X, y)):
            return "X and y are not numpy (or sparse, list, data frame) data"
        try:
            candidates = list(ParameterGrid(self.param_grid))
        except Exception:  # noqa: BLE001 - GridSearchCV.fit raises the grid's error
            return "the grid is not valid"
        if not any(_stochastic(self.estimator, params) for params in candidates):
            return "no candidate uses a stochastic solver"
        return None

    @_fit_context(prefer_skip_nested_validation=False)  # the estimator is not validated
    def _fit_stacked(self, X, y, **params):
        scorers, refit_metric = self._get_scorers()
        X, y = indexable(X, y)
        params = _check_method_params(X, params=params)
        routed = self._get_routed_params_for_fit(params)
        self._checked_cv_orig = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        self.n_splits_ = self._checked_cv_orig.get_n_splits(X, y, **routed.splitter.split)
        base = clone(self.estimator)
        candidates = list(ParameterGrid(self.param_grid))
        splits = self._splits(X, y, routed.splitter.split)
        evaluation = _Evaluation(scorers, routed.estimator.fit, routed.scorer.score,
                                 self.return_train_score, self.error_score)
        out = self._evaluate(base, candidates, X, y, splits, evaluation)
        _warn_or_raise_about_fit_failures(out, self.error_score)
        if callable(self.scoring):  # a callable's return type is known only now
            _insert_error_scores(out, self.error_score)
        results = self._format_results(candidates, self.n_splits_, out)
        self.multimetric_ = isinstance(out[0]["test_scores"], dict)
        if callable(self.scoring) and self.multimetric_:
            self._check_refit_for_multimetric(out[0]["test_scores"])
            refit_metric = self.refit
        self._select_best(results, refit_metric)
        if self.refit:
            self._refit_best(base, X, y, routed.estimator.fit)
        self.scorer_ = scorers._scorers if isinstance(scorers, _MultimetricScorer) else scorers
        self.cv_results_ = results
        return self

    def _splits(self, X, y, split_params):
        """The list of (train, test) index pairs, checked against ``n_splits_``."""
        splits = list(self._checked_cv_orig.split(X, y, **split_params))
        if len(splits) != self.n_splits_:
            raise ValueError("cv.split and cv.get_n_splits return inconsistent results. "
                             f"Expected {self.n_splits_} splits, got {len(splits)}")
        return splits

    def _evaluate(self, base, candidates, X, y, splits, evaluation):
        """``_fit_and_score``'s results of every candidate on every split, in
        ``GridSearchCV``'s order (candidate by candidate, split by split)."""
        groups = _stack_groups(base, candidates)
        if self.verbose > 0:
            print(f"Fitting {len(splits)} folds for each of {len(candidates)} candidates, "
                  f"totalling {len(candidates) * len(splits)} fits, in {len(groups)} "
                  f"groups trained together")
        tasks = [(group, k) for group in groups for k in range(len(splits))]
        parallel = Parallel(n_jobs=self.n_jobs, pre_dispatch=self.pre_dispatch)
        evaluated = parallel(
            delayed(_evaluate_group)(base, [candidates[i] for i in group], X, y,
                                     splits[k], evaluation)
            for group, k in tasks)
        if not evaluated:
            raise ValueError("No fits were performed. Was the CV iterator empty? "
                             "Were there no candidates?")
        out = [None] * (len(candidates) * len(splits))
        for (group, k), results in zip(tasks, evaluated, strict=True):
            for i, result in zip(group, results, strict=True):
                out[i * len(splits) + k] = result
        return out

    def _select_best(self, results, refit_metric):
        """``best_index_``, ``best_score_`` and ``best_params_``, as ``GridSearchCV``."""
        if self.refit or not self.multimetric_:
            self.best_index_ = self._select_best_index(self.refit, refit_metric, results)
            if not callable(self.refit):
                self.best_score_ = results[f"mean_test_{refit_metric}"][self.best_index_]
            self.best_params_ = results["params"][self.best_index_]

    def _refit_best(self, base, X, y, fit_params):
        """Fit the best candidate on all of X, as ``GridSearchCV`` refits it."""
        # The parameters are cloned as well, as GridSearchCV does (they may be objects).
        self.best_estimator_ = clone(base).set_params(**clone(self.best_params_, safe=False))
        start = time.time()
        self.best_estimator_.fit(X, y, **fit_params)
        self.refit_time_ = time.time() - start
        if hasattr(self.best_estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.best_estimator_.feature_names_in_


@dataclass(frozen=True)
class _Evaluation:
    """What each (group, split) task needs besides the data: as ``_fit_and_score``'s."""

    scorer: object
    fit_params: dict
    score_params: dict
    return_train_score: bool
    error_score: object


def _estimator_not_stacked_because(estimator, params):
    """Why the stacked search does not apply to ``estimator`` fitted with ``params``;
    None when it does (as far as the estimator and the fit parameters tell)."""
    pipeline = type(estimator) is Pipeline
    if type(_final_step(estimator)[1]) not in _STACKED_ESTIMATORS:
        return ("the estimator is not an FNNRegressor or FNNClassifier, nor a Pipeline "
                "ending in one")
    if pipeline and estimator.memory is not None:
        return "the pipeline caches its transformers (memory)"
    if set(params) - ({"groups"} if pipeline else {"sample_weight", "groups"}):
        # Pipeline.fit takes "<step>__<param>" parameters, routed to the steps' fits.
        return ("fit parameters other than groups given to a pipeline" if pipeline
                else "fit parameters other than sample_weight and groups")
    steps = [step for _, step in estimator.steps] if pipeline else []
    if _listens(estimator) or any(map(_listens, steps)):
        return "callbacks are set"
    return None


def _stack_groups(base, candidates):
    """The candidates' indices grouped by the values of their non-stackable parameters.

    Candidates that set the same non-stackable parameters to the same values
    (of the same types) differ only in :data:`~skfnn._stack.STACKABLE` and
    form one group, in the order of their first member; candidates with a
    solver that is not stochastic are groups of their own.

    Parameters
    ----------
    base : estimator
        The estimator whose parameters the candidates set.
    candidates : list of dict
        The candidates' parameters (``ParameterGrid``'s order).

    Returns
    -------
    groups : list of list of int

    Examples
    --------
    >>> from skfnn import FNNRegressor
    >>> _stack_groups(FNNRegressor(), [{"alpha": 0.1, "batch_size": 8},
    ...                               {"alpha": 0.2, "batch_size": 8},
    ...                               {"alpha": 0.1, "batch_size": 16}])
    [[0, 1], [2]]
    """
    prefix = _final_step(base)[0]
    stackable = {prefix + name for name in _stack.STACKABLE}
    groups = {}
    for i, params in enumerate(candidates):
        if _stochastic(base, params):
            key = tuple(sorted((name, _value_key(value)) for name, value in params.items()
                               if name not in stackable))
        else:
            key = ("alone", i)
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def _value_key(value):
    """A key equal for equal values of the same type (a tuple's items alike);
    unhashable values (lists, arrays) are equal only to themselves."""
    if isinstance(value, tuple):
        return (tuple, tuple(_value_key(item) for item in value))
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))  # the grid holds the object for the whole search
    return (type(value), value)


def _final_step(est):
    """(prefix of the final step's parameters, final step) of a Pipeline; ("", est)
    for any other estimator."""
    if type(est) is Pipeline and est.steps:
        name, step = est.steps[-1]
        return f"{name}__", step
    return "", est


def _stochastic(base, params):
    """True if the candidate ``params`` of ``base`` may train in a stack: an
    FNNRegressor or FNNClassifier (or an uncached Pipeline ending in one) with a
    stochastic solver."""
    if type(base) is not Pipeline:
        return params.get("solver", getattr(base, "solver", None)) in STOCHASTIC_SOLVERS
    try:  # the grid may set the final step itself, or the pipeline's memory
        est = _candidate(base, params)
    except Exception:  # noqa: BLE001 - fitted alone, the candidate raises as in GridSearchCV
        return False
    final = _final_step(est)[1]
    return (est.memory is None and type(final) in _STACKED_ESTIMATORS
            and final.solver in STOCHASTIC_SOLVERS)


def _listens(estimator):
    """True if scikit-learn's callbacks are set on ``estimator`` or reach it from a
    meta-estimator (scikit-learn >= 1.9): GridSearchCV.fit runs their tasks."""
    return bool(getattr(estimator, "_skl_callbacks", None)) or hasattr(
        estimator, "_parent_callback_ctx")


def _candidate(base, params):
    """A fresh clone of ``base`` with the candidate's parameters, as GridSearchCV makes it."""
    return clone(base).set_params(**clone(params, safe=False))


def _evaluate_group(base, group, X, y, split, evaluation):
    """Fit the candidates ``group`` on the split's training rows, score each.

    Returns ``_fit_and_score``'s result dict for each candidate, the group's
    fit time divided equally among its members.
    """
    train, test = split
    fit_params = _check_method_params(X, params=evaluation.fit_params, indices=train)
    X_train, y_train = _safe_split(base, X, y, train)
    X_test, y_test = _safe_split(base, X, y, test, train)
    fitted = _fit_group(base, group, X_train, y_train, fit_params, evaluation.error_score)
    test_params = _check_method_params(X, params=evaluation.score_params, indices=test)
    train_params = _check_method_params(X, params=evaluation.score_params, indices=train)
    results = []
    for est, fit_time, error in fitted:
        result = {"fit_error": error, "n_test_samples": _num_samples(X_test),
                  "fit_time": fit_time}
        if error is not None:
            result.update(test_scores=evaluation.error_score, score_time=0.0)
            if evaluation.return_train_score:
                result["train_scores"] = evaluation.error_score
        else:
            start = time.time()
            result["test_scores"] = _score(est, X_test, y_test, evaluation.scorer,
                                           test_params, evaluation.error_score)
            result["score_time"] = time.time() - start
            if evaluation.return_train_score:
                result["train_scores"] = _score(est, X_train, y_train, evaluation.scorer,
                                                train_params, evaluation.error_score)
        results.append(result)
    return results


def _fit_group(base, group, X, y, fit_params, error_score):
    """[(fitted estimator or None, fit seconds, traceback or None)] for each candidate.

    A group of several is fitted by ``fit_members``; if that raises (and
    ``error_score`` is not "raise"), its members are fitted one by one from
    fresh clones, so that a failing candidate does not fail the others.
    """
    if len(group) == 1:
        return [_fit_alone(base, group[0], X, y, fit_params, error_score)]
    members = [_candidate(base, params) for params in group]
    start = time.time()
    try:
        _fit_together(members, X, y, fit_params)
    except Exception:
        if error_score == "raise":
            raise
        return [_fit_alone(base, params, X, y, fit_params, error_score) for params in group]
    share = (time.time() - start) / len(members)
    return [(est, share, None) for est in members]


def _fit_together(members, X, y, fit_params):
    """Fit the group's ``members`` on (X, y) together, each as its own ``fit`` would.

    Pipelines (which agree on all but their final step's stackable parameters)
    share the first member's earlier steps, fitted once as ``Pipeline.fit``
    fits them; their final steps train together on the transformed rows.
    """
    if type(members[0]) is not Pipeline:
        _stack.fit_members(members, X, y, sample_weight=fit_params.get("sample_weight"))
        return
    pre_steps = members[0].steps[:-1]
    if pre_steps:
        # A pipeline of the earlier steps fits them (uncloned, as Pipeline.fit with
        # memory=None) and transforms X as the whole pipeline's fit would.
        before = Pipeline(pre_steps)
        X = before.fit_transform(X, y)
        pre_steps = before.steps
    for member in members:
        # The fitted earlier steps are shared: scoring only reads them.
        member.steps = [*pre_steps, member.steps[-1]]
    _stack.fit_members([member.steps[-1][1] for member in members], X, y)


def _fit_alone(base, params, X, y, fit_params, error_score):
    """One candidate fitted as ``_fit_and_score`` fits it: (estimator, seconds, error)."""
    est = _candidate(base, params)
    start = time.time()
    try:
        est.fit(X, y, **fit_params)
    except Exception:
        if error_score == "raise":
            raise
        return None, time.time() - start, format_exc()
    return est, time.time() - start, None

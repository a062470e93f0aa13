"""The one place where gradcheck reaches into the estimator: the objective it trains.

:func:`training_problem` is the whole interface between check_gradients and
the estimator layer: the fit's own training problem (:func:`skfnn._problem.build`)
and starting weights (:func:`skfnn._model.start`), on a copy of the estimator.
"""

import copy

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .. import _model, _problem


def training_problem(estimator, X, y, sample_weight):
    """The float64 data, θ and network of the estimator's objective J.

    A fitted estimator is taken at its current weights, an unfitted one at the
    weights ``fit`` would start from; either way the estimator is not modified.

    Returns
    -------
    X, Y, sample_weight, theta, net
        ``net`` is the checked network: a user object that breaks its
        contract is named, not differenced.
    """
    from .._base import BaseFNN

    if not isinstance(estimator, BaseFNN):
        raise TypeError(
            "check_gradients needs an FNNRegressor or FNNClassifier, or a Pipeline that ends "
            f"in one; got {type(estimator).__name__}."
        )
    try:
        check_is_fitted(estimator)
        est, incremental = copy.deepcopy(estimator), True
    except NotFittedError:
        est, incremental = clone(estimator), False
        est._validate_params()
    problem = _problem.build(est, X, y, sample_weight, incremental=incremental)
    theta = _model.start(est, problem, check_random_state(est.random_state))
    sample_weight = problem.sample_weight
    sample_weight = None if sample_weight is None else sample_weight.astype(np.float64)
    return (problem.X.astype(np.float64), problem.Y.astype(np.float64), sample_weight,
            theta.astype(np.float64), problem.net.checked())


def final_step(estimator, X, y):
    """A Pipeline's last step and X as its other steps transform it, else (estimator, X).

    Fitted steps transform as they are; unfitted ones are fitted on X first.
    """
    if not isinstance(estimator, Pipeline):
        return estimator, X
    if len(estimator) == 1:  # no step before the estimator: X as it is
        return estimator[-1], X
    transforms = estimator[:-1]
    try:
        check_is_fitted(transforms)
    except NotFittedError:
        transforms = clone(transforms).fit(X, y)
    return estimator[-1], transforms.transform(X)

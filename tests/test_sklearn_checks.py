"""scikit-learn's own estimator checks, in full, on both estimators."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skfnn import FNNClassifier, FNNRegressor


@parametrize_with_checks([FNNClassifier(), FNNRegressor()])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)

"""Warnings and errors of skfnn."""

from sklearn.exceptions import InconsistentVersionWarning as _SklearnInconsistentVersionWarning

__all__ = ["InconsistentVersionWarning"]


class InconsistentVersionWarning(_SklearnInconsistentVersionWarning):
    """Warns that a fitted estimator was saved by another version of skfnn.

    Raised when a pickle (or a skops file) of an skfnn estimator written by
    one skfnn version is loaded under another: the fitted state's layout may
    have changed, so predictions are not guaranteed. A subclass of
    scikit-learn's ``InconsistentVersionWarning``, so code that filters
    scikit-learn's warning filters this one too.

    Parameters
    ----------
    estimator_name : str
        The class of the estimator loaded.
    current_version : str
        The skfnn version running now.
    original_version : str
        The skfnn version that saved it ("unknown" for a state without a stamp).

    Examples
    --------
    >>> import pickle, warnings
    >>> from skfnn import FNNRegressor
    >>> from skfnn.exceptions import InconsistentVersionWarning
    >>> est = FNNRegressor((3,), max_iter=2).fit([[0.0], [1.0]], [0.0, 1.0])
    >>> state = est.__getstate__()
    >>> state["_skfnn_version"] = "0.0.1"
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     FNNRegressor().__setstate__(state)
    >>> [str(w.message)[:62] for w in caught if w.category is InconsistentVersionWarning]
    ['Trying to unpickle estimator FNNRegressor from skfnn version 0']
    """

    def __init__(self, *, estimator_name, current_version, original_version):
        self.estimator_name = estimator_name
        self.current_version = current_version
        self.original_version = original_version
        # scikit-learn's attribute names, for code written against its warning.
        self.current_sklearn_version = current_version
        self.original_sklearn_version = original_version
        Warning.__init__(self, str(self))

    def __str__(self):
        return (
            f"Trying to unpickle estimator {self.estimator_name} from skfnn version "
            f"{self.original_version} when using version {self.current_version}. This "
            "might lead to breaking code or invalid results. Use at your own risk."
        )

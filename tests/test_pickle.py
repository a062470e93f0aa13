"""Pickles: the fitted state is plain data stamped with the skfnn version that wrote it;
loading another version's state warns."""

import io
import pickle
import warnings

import numpy as np
import pytest
from helpers import (
    STOCHASTIC,
    classification_data,
    regression_data,
)
from numpy.testing import assert_array_equal
from sklearn.datasets import (
    make_regression,
)

import skfnn
from skfnn import FNNClassifier, FNNRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# ======================================================================
# Pickles
# ======================================================================
def test_a_pickle_carries_the_version_and_loads_silently_under_the_same_one():
    est = FNNRegressor((3,), max_iter=3, random_state=0).fit(*regression_data())
    assert est.__getstate__()["_skfnn_version"] == skfnn.__version__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pickle.loads(pickle.dumps(est))


@pytest.mark.parametrize("Estimator", [FNNRegressor, FNNClassifier])
def test_loading_a_pickle_of_another_version_warns(Estimator, monkeypatch):
    from sklearn.exceptions import InconsistentVersionWarning as SklearnWarning

    from skfnn import _state
    from skfnn.exceptions import InconsistentVersionWarning

    X, y = classification_data()
    data = pickle.dumps(Estimator((3,), max_iter=3, random_state=0).fit(X, y))
    monkeypatch.setattr(_state, "__version__", "99.0")
    with pytest.warns(InconsistentVersionWarning) as record:
        loaded = pickle.loads(data)
    warning = record[0].message
    assert warning.original_version == skfnn.__version__ and warning.current_version == "99.0"
    assert warning.original_sklearn_version == skfnn.__version__  # scikit-learn's names
    assert Estimator.__name__ in str(warning) and "skfnn version" in str(warning)
    with pytest.warns(SklearnWarning):  # code filtering scikit-learn's warning sees it
        again = pickle.loads(data)
    assert_array_equal(loaded.predict(X), again.predict(X))


def test_a_state_without_a_version_stamp_warns_unknown():
    from skfnn.exceptions import InconsistentVersionWarning

    est = FNNRegressor((3,), max_iter=3, random_state=0).fit(*regression_data())
    state = est.__getstate__()
    del state["_skfnn_version"]
    with pytest.warns(InconsistentVersionWarning, match="version unknown"):
        FNNRegressor().__setstate__(state)


@pytest.mark.parametrize("solver", STOCHASTIC)
def test_the_pickle_holds_no_best_weights_without_early_stopping(solver):
    X, y = make_regression(n_samples=300, n_features=20, random_state=0)
    sizes = {}
    for early_stopping in (False, True):
        est = FNNRegressor((50,), solver=solver, max_iter=3, early_stopping=early_stopping,
                           random_state=0).fit(X, y)
        assert ("_best_theta" in est.__getstate__()) == early_stopping
        sizes[early_stopping] = len(pickle.dumps(est))
    theta_bytes = sum(p.nbytes for p in est.coefs_ + est.intercepts_)
    optimizer_bytes = sum(v.nbytes for v in vars(est._optimizer).values()
                          if isinstance(v, np.ndarray))
    # Early stopping adds one θ (the best weights), and nothing else is stored twice.
    assert theta_bytes <= sizes[True] - sizes[False] < theta_bytes + 500
    assert sizes[False] < theta_bytes + optimizer_bytes + 4000


def test_an_lbfgs_pickle_holds_the_weights_once():
    X, y = make_regression(n_samples=300, n_features=20, random_state=0)
    est = FNNRegressor((50,), solver="lbfgs", max_iter=3, random_state=0).fit(X, y)
    theta_bytes = sum(p.nbytes for p in est.coefs_ + est.intercepts_)
    assert theta_bytes < len(pickle.dumps(est)) < theta_bytes + 4000


@pytest.mark.parametrize("Estimator, solver", [(FNNRegressor, "adam"), (FNNRegressor, "lbfgs"),
                                               (FNNClassifier, "sgd")])
def test_the_pickled_state_is_plain_data(Estimator, solver):
    """Loading it needs numpy, the estimator class and (classifier) LabelBinarizer only."""
    X, y = classification_data(n_classes=3)
    est = Estimator((4,), activation="leaky_relu", solver=solver, max_iter=3,
                    random_state=0).fit(X, y)
    allowed = {("skfnn._regressor", "FNNRegressor"), ("skfnn._classifier", "FNNClassifier"),
               ("sklearn.preprocessing._label", "LabelBinarizer")}

    class PlainDataUnpickler(pickle.Unpickler):
        def find_class(self, module, name):
            assert module.split(".")[0] == "numpy" or (module, name) in allowed, (module, name)
            return super().find_class(module, name)

    loaded = PlainDataUnpickler(io.BytesIO(pickle.dumps(est))).load()
    assert_array_equal(loaded.predict(X), est.predict(X))



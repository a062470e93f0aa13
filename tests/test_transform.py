"""transform: a fitted network's hidden features, as a scikit-learn transformer.

The yardstick is a forward pass written here in numpy from ``coefs_`` and
``intercepts_`` with the activations' formulas.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline

from skfnn import FNNClassifier, FNNRegressor

FORMULAS = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh,
            "logistic": lambda z: 1 / (1 + np.exp(-z))}


def _quietly(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fn(*args, **kwargs)


def by_hand(est, X, activations):
    """A^1 .. A^{L-1} in numpy from the fitted weights."""
    A, out = X, []
    for W, b, name in zip(est.coefs_[:-1], est.intercepts_[:-1], activations, strict=True):
        A = FORMULAS[name](A @ W + b)
        out.append(A)
    return out


@pytest.mark.parametrize("Estimator, X, y", [
    (FNNClassifier, *load_iris(return_X_y=True)),
    (FNNRegressor, *make_regression(n_samples=80, n_features=5, random_state=0)),
])
def test_transform_is_the_last_hidden_layer_computed_by_hand(Estimator, X, y):
    activations = ["relu", "tanh", "logistic"]
    est = _quietly(Estimator((7, 5, 3), activation=activations, max_iter=20,
                             random_state=0).fit, X, y)
    expected = by_hand(est, X, activations)
    assert_allclose(est.transform(X), expected[-1], rtol=1e-12, atol=1e-14)
    for got, want in zip(est.hidden_activations(X), expected, strict=True):
        assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    assert est.transform(X).shape == (X.shape[0], 3)


def test_sparse_float32_and_dropout_transform_as_at_prediction():
    X, y = load_iris(return_X_y=True)
    est = _quietly(FNNClassifier((6,), dropout=0.5, max_iter=10, random_state=0).fit,
                   X.astype(np.float32), y)
    dense = est.transform(X.astype(np.float32))
    assert dense.dtype == np.float32
    assert_allclose(dense, by_hand(est, X.astype(np.float32), ["relu"])[-1], rtol=1e-4,
                    atol=1e-5)
    assert_allclose(est.transform(sp.csr_matrix(X.astype(np.float32))), dense, rtol=1e-4,
                    atol=1e-5)


def test_feature_names_and_pandas_output():
    pd = pytest.importorskip("pandas")
    X, y = load_iris(return_X_y=True, as_frame=True)
    reg = _quietly(FNNRegressor((4,), max_iter=5, random_state=0).fit, X, y)
    assert list(reg.get_feature_names_out()) == [f"fnnregressor{i}" for i in range(4)]
    clf = _quietly(FNNClassifier((3,), max_iter=5, random_state=0).fit, X, y)
    clf.set_output(transform="pandas")
    frame = clf.transform(X)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["fnnclassifier0", "fnnclassifier1", "fnnclassifier2"]
    assert frame.index.equals(X.index)
    assert_allclose(frame.to_numpy(), by_hand(clf, X.to_numpy(), ["relu"])[-1], rtol=1e-12)
    assert clf.predict(X).shape == (150,)  # still a predictor


def test_a_pipeline_fits_a_model_on_the_networks_features():
    X, y = load_iris(return_X_y=True)
    network = FNNClassifier((10,), max_iter=300, random_state=0)
    pipe = _quietly(make_pipeline(network, LogisticRegression()).fit, X, y)
    fitted = pipe[0]
    reference = _quietly(clone(network).fit, X, y)
    assert_allclose(fitted.coefs_[0], reference.coefs_[0])
    lr = LogisticRegression().fit(reference.transform(X), y)
    assert_allclose(pipe.predict_proba(X), lr.predict_proba(reference.transform(X)))
    assert pipe.score(X, y) > 0.9


def test_fit_transform_is_fit_then_transform():
    X, y = make_regression(n_samples=60, n_features=4, random_state=0)
    est = FNNRegressor((5,), max_iter=5, random_state=0)
    assert_allclose(_quietly(clone(est).fit_transform, X, y),
                    _quietly(est.fit, X, y).transform(X))
    pipe = _quietly(make_pipeline(FNNRegressor((5,), max_iter=5, random_state=0),
                                  Ridge()).fit, X, y)
    assert pipe.predict(X).shape == (60,)


def test_unfitted_and_no_hidden_layer_say_so():
    X, y = make_regression(n_samples=30, n_features=3, random_state=0)
    with pytest.raises(NotFittedError):
        FNNRegressor().transform(X)
    with pytest.raises(NotFittedError):
        FNNRegressor().get_feature_names_out()
    linear = _quietly(FNNRegressor((), max_iter=5, random_state=0).fit, X, y)
    with pytest.raises(ValueError, match=r"no hidden layer \(hidden_layer_sizes=\(\)\)"):
        linear.transform(X)
    with pytest.raises(ValueError, match="3 features"):
        _quietly(FNNRegressor((4,), max_iter=3).fit, X, y).transform(X[:, :2])


def test_transform_on_torch_arrays_stays_in_the_namespace():
    import os
    from importlib.util import find_spec

    from skfnn._sklearn_compat import HAS_ARRAY_API

    if not (find_spec("torch") and os.environ.get("SCIPY_ARRAY_API") == "1" and HAS_ARRAY_API):
        pytest.skip("needs PyTorch, SCIPY_ARRAY_API=1 and scikit-learn >= 1.9")
    import sklearn
    import torch

    X, y = make_regression(n_samples=50, n_features=4, random_state=0)
    reference = _quietly(FNNRegressor((5,), max_iter=5, random_state=0).fit, X, y)
    with sklearn.config_context(array_api_dispatch=True):
        est = _quietly(FNNRegressor((5,), max_iter=5, random_state=0).fit,
                       torch.asarray(X), torch.asarray(y))
        features = est.transform(torch.asarray(X))
    assert isinstance(features, torch.Tensor)
    assert_allclose(features.numpy(), reference.transform(X), rtol=1e-9, atol=1e-12)

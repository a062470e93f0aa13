"""Safe persistence: plain-data state, pickle / joblib / skops round trips, skfnn.io.

A fitted estimator's state holds builtins, numpy arrays and scikit-learn's own
types only; every round trip keeps predictions bit-identical and lets training
continue exactly; and ``skfnn.io.load`` refuses crafted files that name
``os.system`` or ``builtins.eval``, truncated files and flipped bits with clear
errors.
"""

import copy
import io
import json
import pickle
import sys
import warnings
import zipfile

import joblib
import numpy as np
import pytest
import skops.io
from numpy.testing import assert_array_equal
from sklearn.datasets import load_iris, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import LabelBinarizer, StandardScaler

from skfnn import Activation, FNNClassifier, FNNRegressor
from skfnn import io as skfnn_io
from skfnn.activations import ELU, LeakyReLU
from skfnn.exceptions import InconsistentVersionWarning
from skfnn.losses import HuberLoss

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
XR, YR = make_regression(n_samples=80, n_features=4, noise=1.0, random_state=0)
YR = YR / YR.std()
X_ML, Y_ML = make_multilabel_classification(n_samples=60, n_features=5, n_classes=3,
                                            random_state=0)


def quiet(fit, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit(*args, **kwargs)


class Cube(Activation):
    """A user's activation (module level, so that it can be imported on load)."""

    def forward(self, z):
        return z ** 3

    def derivative(self, z, a):
        return 3 * z ** 2


# Models built from built-in pieces only, covering every kind of fitted state.
BUILT_IN = {
    "multiclass-adam": lambda: quiet(FNNClassifier((5,), max_iter=5, random_state=0).fit,
                                     X_IRIS, Y_IRIS),
    "binary-sgd-early-stopping": lambda: quiet(FNNClassifier(
        (5,), solver="sgd", early_stopping=True, max_iter=5, random_state=0).fit,
        X_IRIS, Y_IRIS == 0),
    "multilabel-per-layer": lambda: quiet(FNNClassifier(
        (5, 4), activation=[LeakyReLU(0.2), ELU(0.5)], dropout=[0.1, 0.2], max_iter=5,
        random_state=0).fit, X_ML, Y_ML),
    "regressor-huber-lbfgs": lambda: quiet(FNNRegressor(
        (6,), loss=HuberLoss(threshold=0.5), solver="lbfgs", max_iter=20,
        random_state=0).fit, XR, YR),
    "regressor-validation": lambda: quiet(FNNRegressor((6,), max_iter=5, random_state=0).fit,
                                          XR, YR, X_val=XR[:20], y_val=YR[:20]),
}


def _plain(value, path="state"):
    """Assert a state holds builtins, numpy arrays and scikit-learn's LabelBinarizer only."""
    if isinstance(value, dict):
        for k, v in value.items():
            assert isinstance(k, str), f"{path}: key {k!r}"
            _plain(v, f"{path}[{k!r}]")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _plain(v, f"{path}[{i}]")
    elif isinstance(value, LabelBinarizer):
        _plain(value.__getstate__(), f"{path}.LabelBinarizer")
    elif isinstance(value, type):  # a numpy dtype's type, e.g. a LabelBinarizer's
        assert value.__module__ in ("numpy", "builtins"), f"{path}: {value}"
    else:
        assert value is None or isinstance(value, (str, bool, int, float, np.ndarray,
                                                   np.generic)), f"{path}: {type(value)}"


@pytest.mark.parametrize("name", BUILT_IN)
def test_the_fitted_state_of_built_in_pieces_is_plain_data(name):
    est = BUILT_IN[name]()
    _plain(est.__getstate__())
    # skops needs to be told to trust skfnn's estimator classes, and nothing else.
    assert skops.io.get_untrusted_types(data=skops.io.dumps(est)) == [
        f"{type(est).__module__}.{type(est).__name__}"]


def _same_model(a, b, X):
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert_array_equal(p, q)
    predict = a.predict_proba if hasattr(a, "predict_proba") else a.predict
    assert_array_equal(predict(X), (b.predict_proba if hasattr(b, "predict_proba")
                                    else b.predict)(X))


def _round_trips(est):
    buffer = io.BytesIO()
    joblib.dump(est, buffer)
    buffer.seek(0)
    return {"pickle": pickle.loads(pickle.dumps(est)),
            "joblib": joblib.load(buffer),
            "skops": skfnn_io.loads(skfnn_io.dumps(est))}


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_round_trips_predict_the_same_and_partial_fit_continues_exactly(solver):
    est = FNNClassifier((6,), solver=solver, random_state=0)
    for chunk in np.array_split(np.arange(150), 3):
        est.partial_fit(X_IRIS[chunk], Y_IRIS[chunk], classes=[0, 1, 2])
    for how, loaded in _round_trips(est).items():
        _same_model(est, loaded, X_IRIS)
        reference = copy.deepcopy(est)
        for model in (reference, loaded):  # the optimizer state (moments, t) came along
            model.partial_fit(X_IRIS[::2], Y_IRIS[::2])
        _same_model(reference, loaded, X_IRIS)
        assert loaded.t_ == reference.t_ and loaded.loss_curve_ == reference.loss_curve_


@pytest.mark.parametrize("name", BUILT_IN)
def test_round_trips_of_every_kind_of_model(name):
    est = BUILT_IN[name]()
    X = X_ML if "multilabel" in name else (XR if "regressor" in name else X_IRIS)
    for loaded in _round_trips(est).values():
        _same_model(est, loaded, X)
        assert loaded._net.sigmas == est._net.sigmas
        assert loaded.get_params() == est.get_params()


def test_warm_start_continues_exactly_after_a_skops_round_trip():
    est = quiet(FNNRegressor((6,), warm_start=True, max_iter=5, random_state=0).fit, XR, YR)
    loaded = skfnn_io.loads(skfnn_io.dumps(est))
    quiet(est.fit, XR, YR)
    quiet(loaded.fit, XR, YR)
    _same_model(est, loaded, XR)


def test_a_pipeline_of_scikit_learn_transformers_and_an_fnn_loads():
    pipe = quiet(make_pipeline(StandardScaler(), FNNClassifier((6,), max_iter=10,
                                                               random_state=0)).fit,
                 X_IRIS, Y_IRIS)
    loaded = skfnn_io.loads(skfnn_io.dumps(pipe))
    assert_array_equal(loaded.predict_proba(X_IRIS), pipe.predict_proba(X_IRIS))


def test_files_and_paths(tmp_path):
    est = BUILT_IN["regressor-huber-lbfgs"]()
    path = tmp_path / "model.skops"
    skfnn_io.dump(est, path)
    assert_array_equal(skfnn_io.load(path).predict(XR), est.predict(XR))
    with open(path, "rb") as f:
        assert_array_equal(skfnn_io.load(f).predict(XR), est.predict(XR))


# ----------------------------------------------------------------------
# Crafted, truncated and corrupted files
# ----------------------------------------------------------------------
def _rewrite_schema(data, edit):
    """The skops file ``data`` with its schema.json edited by ``edit(schema)``."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item)
            if item.filename == "schema.json":
                schema = json.loads(content)
                edit(schema)
                content = json.dumps(schema).encode()
            target.writestr(item, content)
    return out.getvalue()


@pytest.mark.parametrize("module, name", [("os", "system"), ("builtins", "eval")])
def test_a_crafted_file_naming_a_dangerous_function_is_refused(module, name):
    data = skfnn_io.dumps(BUILT_IN["multiclass-adam"]())

    def plant(schema):  # the "activation" parameter becomes a reference to the function
        schema["content"]["content"]["activation"] = {
            "__class__": name, "__module__": module, "__loader__": "FunctionNode",
            "__id__": 1}

    crafted = _rewrite_schema(data, plant)
    assert f"{module}.{name}" in skops.io.get_untrusted_types(data=crafted)
    with pytest.raises(skfnn_io.UntrustedTypesError, match=rf"{module}\.{name}") as caught:
        skfnn_io.loads(crafted)
    assert caught.value.types == [f"{module}.{name}"]
    assert isinstance(caught.value, ValueError)


def test_a_crafted_object_of_an_unknown_class_is_refused():
    data = skfnn_io.dumps(BUILT_IN["regressor-huber-lbfgs"]())

    def plant(schema):
        schema["__module__"], schema["__class__"] = "subprocess", "Popen"

    with pytest.raises(skfnn_io.UntrustedTypesError, match=r"subprocess\.Popen"):
        skfnn_io.loads(_rewrite_schema(data, plant))


@pytest.mark.parametrize("keep", [0.0, 0.5, 0.99])
def test_a_truncated_file_gets_a_clear_error(keep):
    data = skfnn_io.dumps(BUILT_IN["multiclass-adam"]())
    with pytest.raises(ValueError, match="not a complete skops file"):
        skfnn_io.loads(data[: int(len(data) * keep)])


def test_a_flipped_bit_is_an_error_never_a_silently_different_model():
    est = BUILT_IN["multiclass-adam"]()
    data = skfnn_io.dumps(est)
    rng = np.random.default_rng(0)
    errors = 0
    for _ in range(300):
        corrupted = bytearray(data)
        corrupted[rng.integers(len(data))] ^= 1 << int(rng.integers(8))
        try:
            loaded = skfnn_io.loads(bytes(corrupted))
        except (ValueError, skfnn_io.UntrustedTypesError):
            errors += 1
            continue
        _same_model(est, loaded, X_IRIS)  # a flip the format ignores changes nothing
    assert errors > 250


def test_the_skfnn_version_is_stored_and_checked_on_load():
    data = skfnn_io.dumps(BUILT_IN["regressor-huber-lbfgs"]())
    schema = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("schema.json"))
    version = schema["content"]["content"]["_skfnn_version"]["content"]
    import skfnn

    assert json.loads(version) == skfnn.__version__

    def older(schema):
        schema["content"]["content"]["_skfnn_version"]["content"] = json.dumps("0.0.1")

    with pytest.warns(InconsistentVersionWarning, match="from skfnn version 0.0.1"):
        skfnn_io.loads(_rewrite_schema(data, older))


def test_a_custom_activation_loads_only_when_trusted():
    est = quiet(FNNRegressor((5,), activation=Cube(), solver="lbfgs", max_iter=20,
                             random_state=0).fit, XR, YR)
    data = skfnn_io.dumps(est)
    name = f"{__name__}.Cube"
    assert skfnn_io.untrusted_types(data) == [name]
    with pytest.raises(skfnn_io.UntrustedTypesError, match="trusted="):
        skfnn_io.loads(data)
    for trusted in ([Cube], [name]):
        _same_model(est, skfnn_io.loads(data, trusted=trusted), XR)


CALLS = []


def _record_call(what):
    CALLS.append(what)


class Payload:
    """What a tampered file holds: unpickling it calls a function of its choosing."""

    def __reduce__(self):
        return (_record_call, ("ran",))


def test_a_tampered_pickle_runs_code_which_skfnn_io_refuses():
    """The risk this module exists for: pickle calls what the file names."""
    est = BUILT_IN["regressor-huber-lbfgs"]()
    est.payload = Payload()
    CALLS.clear()
    pickle.loads(pickle.dumps(est))
    assert CALLS == ["ran"]  # the payload ran on load
    CALLS.clear()
    data = skfnn_io.dumps(est)
    with pytest.raises(skfnn_io.UntrustedTypesError, match="Payload"):
        skfnn_io.loads(data)
    assert CALLS == []


def test_without_skops_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "skops.io", None)
    monkeypatch.setitem(sys.modules, "skops", None)
    with pytest.raises(ImportError, match=r'pip install "skfnn\[io\]"'):
        skfnn_io.dumps(BUILT_IN["regressor-huber-lbfgs"]())

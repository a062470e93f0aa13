"""Safe persistence: plain-data state, pickle / joblib / skops round trips, skfnn.io.

A fitted estimator's state holds builtins, numpy arrays and scikit-learn's own
types only; every round trip keeps predictions bit-identical and lets training
continue exactly; and ``skfnn.io.load`` refuses crafted files that name
``os.system`` or ``builtins.eval``, truncated files and flipped bits with clear
errors.
"""

import copy
import functools
import io
import json
import pickle
import sys
import tracemalloc
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

from skfnn import Activation, FNNClassifier, FNNRegressor, schedules
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
    for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True):
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
    for loaded in _round_trips(est).values():
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


# ----------------------------------------------------------------------
# Crafted nodes, inconsistent states, size bounds (every case: a ValueError
# that names the problem, never another exception, never a wrong model)
# ----------------------------------------------------------------------
_IDS = iter(range(1, 10 ** 6))


def _json_node(value):
    return {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode",
            "content": json.dumps(value), "is_json": True, "__id__": next(_IDS)}


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _npy_header(shape, descr="<f8"):
    """An npy header declaring ``shape`` of ``descr``, as np.save writes it (no data)."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return np.lib.format.magic(1, 0) + buffer.getvalue()[len(np.lib.format.magic(1, 0)):]


def _zeros_writer(header, n_bytes):
    """Write a member of ``header`` then ``n_bytes`` zeros, streamed (a small-scale bomb)."""
    def write(f):
        f.write(header)
        chunk = bytes(1 << 20)
        for start in range(0, n_bytes, len(chunk)):
            f.write(chunk[: min(len(chunk), n_bytes - start)])
    return write


def _craft(data, edit=lambda fnn, schema: None, members=None, schema_padding=0):
    """``data`` with its schema edited by ``edit(fnn_content, schema)``, and members.

    ``members``: {name: bytes, or a writer ``f -> None`` streamed DEFLATE-compressed}.
    """
    source = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(source.read("schema.json"))
    edit(schema["content"]["content"], schema)
    members = {"schema.json": json.dumps(schema).encode() + b" " * schema_padding,
               **(members or {})}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            if item.filename not in members:
                target.writestr(item, source.read(item))
        for name, content in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            with target.open(info, "w", force_zip64=True) as f:
                content(f) if callable(content) else f.write(content)
    return out.getvalue()


def _array(fnn, *path):
    """The schema node at ``path`` below an FNN's content (ints index lists)."""
    node = fnn[path[0]]
    for key in path[1:]:
        node = node["content"][key]
    return node


def _replace_array(path, content, kind="numpy"):
    """An edit that points the array at ``path`` to a new member holding ``content``."""
    def edit(fnn, schema):
        node = _array(fnn, *path)
        node.update(file=f"crafted-{'-'.join(map(str, path))}.npy", __id__=next(_IDS))
    return edit, {f"crafted-{'-'.join(map(str, path))}.npy": content}


def _set_json(value, *path):
    def edit(fnn, schema):
        _array(fnn, *path).update(_json_node(value))
    return edit


def _set_version(version, edit):
    def both(fnn, schema):
        edit(fnn, schema)
        fnn["_skfnn_version"].update(_json_node(version))
    return both


def _delete(*path):
    def edit(fnn, schema):
        parent = fnn if len(path) == 1 else _array(fnn, *path[:-1])["content"]
        del parent[path[-1]]
    return edit


def _relabel(module, name):
    def edit(fnn, schema):
        schema["__module__"], schema["__class__"] = module, name
    return edit


def _classes(labels):
    """Both copies of classes_ (the estimator's and its binarizer's) set to ``labels``."""
    def edit(fnn, schema):
        for node in (fnn["classes_"], fnn["_label_binarizer"]["content"]["content"]["classes_"]):
            node.update(file="crafted-classes.npy", __id__=next(_IDS))
    return edit, {"crafted-classes.npy": _npy(np.asarray(labels))}


def _object_array(fnn, schema):
    """coefs_[0] as an object array stored as JSON (skops' form for dtype=object)."""
    fnn["coefs_"]["content"][0] = {
        "__class__": "ndarray", "__module__": "numpy", "__loader__": "NdArrayNode",
        "type": "json", "content": [_json_node(1.0)] * 20, "__id__": next(_IDS),
        "shape": {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode",
                  "content": [_json_node(20)], "__id__": next(_IDS)}}


def _with(edit_members, then):
    edit, members = edit_members

    def both(fnn, schema):
        edit(fnn, schema)
        then(fnn, schema)
    return both, members


MB = 1 << 20
_SOFTMAX = _set_json("softmax", "_net", "sigmas", 1, "name")
# (case, base model, edit or (edit, members), max_bytes, expected words in the error)
CRAFTED = [
    ("activation-of-a-newer-skfnn", "multiclass",
     _set_version("9.0", _set_json("mish", "_net", "sigmas", 0, "name")), None,
     r"unknown activation 'mish'.*written by skfnn 9\.0.*version mismatch"),
    ("unknown-loss", "multiclass", _set_json("focal", "_net", "loss", "name"), None,
     r"unknown loss 'focal' \(this skfnn knows .*'log_loss'.*edited or corrupted"),
    ("older-state-layout", "multiclass", _set_version("0.0.1", _delete("_net", "init")), None,
     r"_net\) lacks \['init'\].*skfnn 0\.0\.1.*version mismatch"),
    ("piece-kind-unknown", "multiclass", _set_json("optimizer", "_net", "sigmas", 0,
                                                  "__skfnn__"), None, r"cannot read"),
    ("coefs_-removed", "multiclass", _delete("coefs_"), None, r"lacks \['coefs_'\]"),
    ("_net-removed", "multiclass", _delete("_net"), None, r"lacks \['_net'\]"),
    ("layer-units-a-string", "multiclass", _set_json("4", "_net", "layer_units", 0), None,
     r"layer_units must be two or more positive integers"),
    ("layer-units-huge", "multiclass", _set_json(10 ** 9, "_net", "layer_units", 1), None,
     r"hidden_layer_sizes is \[5\] but .*make it \[1000000000\]"),
    ("n_features_in_-edited", "multiclass", _set_json(5, "n_features_in_"), None,
     r"n_features_in_ is 5 but the network's layer sizes \[4, 5, 3\] make it 4"),
    ("n_features_in_-a-string", "multiclass", _set_json("four", "n_features_in_"), None,
     r"n_features_in_ is 'four'"),
    ("n_outputs_-edited", "multiclass", _set_json(4, "n_outputs_"), None,
     r"n_outputs_ is 4"),
    ("hidden_layer_sizes-edited", "multiclass", _set_json([7], "hidden_layer_sizes"), None,
     r"hidden_layer_sizes is \[7\]"),
    ("2-classes-for-3-outputs", "multiclass", _classes([0, 1]), None,
     r"2 classes_ and 3 output units do not fit a multiclass target"),
    ("4-classes-for-3-outputs", "multiclass", _classes([0, 1, 2, 3]), None,
     r"4 classes_ and 3 output units"),
    ("3-classes-for-1-output", "binary", _classes([0, 1, 2]), None,
     r"3 classes_ and 1 output units do not fit a binary target"),
    ("classes_-differs-from-binarizer", "multiclass",
     _replace_array(("classes_",), _npy(np.array([0, 1, 7]))), None,
     r"classes_ .* differs from the label binarizer's"),
    ("classifier-relabelled-regressor", "multiclass",
     _relabel("skfnn._regressor", "FNNRegressor"), None,
     r"FNNRegressor: the state holds a classifier's labels"),
    ("regressor-relabelled-classifier", "regressor",
     _relabel("skfnn._classifier", "FNNClassifier"), None, r"lacks .*'classes_'"),
    ("out_activation_-edited", "multiclass", _set_json("logistic", "out_activation_"), None,
     r"out_activation_ is 'logistic' but the network's output activation is 'softmax'"),
    ("softmax-on-a-binary-target", "binary",
     lambda fnn, s: (_SOFTMAX(fnn, s), _set_json("softmax", "out_activation_")(fnn, s)),
     None, r"does not suit an FNNClassifier.*couples the output units"),
    ("coefs-transposed", "multiclass", _replace_array(("coefs_", 0), _npy(np.ones((5, 4)))),
     None, r"no longer match the fitted architecture \[4, 5, 3\]"),
    ("coefs-strings", "multiclass",
     _replace_array(("coefs_", 0), _npy(np.full((4, 5), "1.0"))), None, r"holds <U3 values"),
    ("coefs-complex", "multiclass",
     _replace_array(("coefs_", 0), _npy(np.ones((4, 5), complex))), None, r"complex128"),
    ("coefs-object-json", "multiclass", _object_array, None,
     r"no longer match|holds object values"),
    ("coefs-object-npy", "multiclass",
     _replace_array(("coefs_", 0), _npy_header((4, 5), "|O") + bytes(160)), None,
     r"coefs_\[0\] \(member .*\) declares object values"),
    ("huge-declared-shape", "multiclass",
     _replace_array(("coefs_", 0), _npy_header((10 ** 6, 2 * 10 ** 6)) + bytes(160)), None,
     r"declares shape \(1000000, 2000000\) of float64 \(16000000000000 bytes\) but holds 160"),
    ("optimizer-unknown", "multiclass", _set_json("RMSProp", "_optimizer", "class"), None,
     r"unknown optimizer 'RMSProp'"),
    ("adam-moment-shape", "multiclass",
     _replace_array(("_optimizer", "m"), _npy(np.zeros(3))), None,
     r"_optimizer's m has shape \(3,\), not \(43,\)"),
    ("member-missing", "multiclass",
     lambda fnn, s: _array(fnn, "coefs_", 0).update(file="absent.npy", __id__=next(_IDS)),
     None, r"not a complete skops file"),
    ("node-without-loader", "multiclass",
     lambda fnn, s: (fnn["n_iter_"].pop("__loader__"), fnn["n_iter_"].update(__id__=0)),
     None, r"not a complete skops file"),
    # Bombs, at small scale: 32 MiB of zeros compress to ~32 kB.
    ("bomb-beyond-the-architecture", "multiclass",
     _replace_array(("coefs_", 0), _zeros_writer(_npy_header((4096, 1024)), 32 * MB)), None,
     (r"coefs_\[0\] .*declares shape \(4096, 1024\), more values than the stored "
      r"FNNClassifier's architecture allows in any of its arrays \(43, its number")),
    ("bomb-beyond-max_bytes", "multiclass",
     _replace_array(("coefs_", 0), _zeros_writer(_npy_header((4, 5)), 32 * MB)), MB,
     r"inflates to more than max_bytes=1048576 bytes \(at .*coefs_\[0\]"),
    ("schema-bomb", "multiclass", lambda fnn, s: None, MB,
     r"inflates to more than max_bytes=1048576 bytes \(at schema.json"),
]


@functools.cache
def _base_file(kind):
    if kind == "regressor":
        return skfnn_io.dumps(BUILT_IN["regressor-validation"]())
    y = Y_IRIS if kind == "multiclass" else Y_IRIS == 0
    return skfnn_io.dumps(quiet(FNNClassifier((5,), max_iter=5, random_state=0).fit,
                                X_IRIS, y))


@pytest.mark.parametrize("case, base, edit, max_bytes, words", CRAFTED,
                         ids=[case[0] for case in CRAFTED])
def test_a_crafted_file_is_refused_with_a_value_error_that_names_the_problem(
        case, base, edit, max_bytes, words):
    edit, members = edit if isinstance(edit, tuple) else (edit, None)
    padding = 32 * MB if case == "schema-bomb" else 0
    crafted = _craft(_base_file(base), edit, members, schema_padding=padding)
    bound = {} if max_bytes is None else {"max_bytes": max_bytes}
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InconsistentVersionWarning)
            with pytest.raises(ValueError, match=words):
                skfnn_io.loads(crafted, **bound)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Nothing of the declared sizes was decompressed or allocated: a few times the file.
    assert peak < 8 * MB + 4 * len(crafted)


def test_the_size_bound_counts_every_member_once():
    data = _base_file("multiclass")
    total = sum(info.file_size for info in zipfile.ZipFile(io.BytesIO(data)).infolist())
    skfnn_io.loads(data, max_bytes=total)  # exactly the bound: loads
    with pytest.raises(ValueError, match=f"max_bytes={total - 1}"):
        skfnn_io.loads(data, max_bytes=total - 1)


def test_compressed_files_load():
    est = BUILT_IN["multilabel-per-layer"]()
    data = skops.io.dumps(est, compression=zipfile.ZIP_DEFLATED)
    _same_model(est, skfnn_io.loads(data), X_ML)


def _setstate(cls, state):
    """What unpickling does: a bare instance, then __setstate__."""
    est = cls.__new__(cls)
    est.__setstate__(state)
    return est


def _edited_state(edit, kind="multiclass"):
    est = skfnn_io.loads(_base_file(kind))
    state = est.__getstate__()
    edit(state)
    return state


@pytest.mark.parametrize("edit, cls, words", [
    (lambda s: s["_net"]["sigmas"][0].update(name="mish", _=s.update(_skfnn_version="9.0")),
     FNNClassifier, r"unknown activation 'mish'.*skfnn 9\.0.*version mismatch"),
    (lambda s: s["_net"].pop("init"), FNNClassifier, r"lacks \['init'\]"),
    (lambda s: None, FNNRegressor, r"classifier's labels"),
    (lambda s: s.update(classes_=np.array([0, 1])), FNNClassifier, r"differs from the label"),
    (lambda s: s["_net"]["layer_units"].__setitem__(1, 10 ** 9), FNNClassifier,
     r"hidden_layer_sizes is \[5\]"),
    (lambda s: s["coefs_"].__setitem__(0, np.full((4, 5), "1.0")), FNNClassifier,
     r"holds <U3 values"),
    (lambda s: s.update(_optimizer={**s["_optimizer"], "class": "RMSProp"}), FNNClassifier,
     r"unknown optimizer"),
], ids=["unknown-activation", "older-layout", "relabelled", "classes", "huge-layer",
        "string-weights", "optimizer"])
def test_unpickling_a_crafted_state_is_refused_with_a_value_error(edit, cls, words):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InconsistentVersionWarning)
        with pytest.raises(ValueError, match=words):
            _setstate(cls, _edited_state(edit))


@pytest.mark.parametrize("edit, words", [
    (lambda s: s["_net"]["loss"]["params"].update(min_variance=-1.0), r"min_variance=-1\.0"),
    (lambda s: s["learning_rate"]["params"].update(T_max=0), r"T_max=0"),
], ids=["negative-variance-floor", "zero-T_max"])
def test_a_state_with_a_bad_head_or_schedule_parameter_is_refused(edit, words):
    # Before: a variance floor of −1 loaded, and return_std gave NaN for any point where
    # softplus(s) < 1; a T_max of 0 loaded, and the next partial_fit divided by zero.
    rng = np.random.RandomState(0)
    X, y = rng.randn(30, 2), rng.randn(30)
    est = FNNRegressor((3,), loss="gaussian_nll", solver="adamw", max_iter=2, random_state=0,
                       learning_rate=schedules.CosineAnnealing(5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        state = est.fit(X, y).__getstate__()
    edit(state)
    with pytest.raises(ValueError, match=words):
        _setstate(FNNRegressor, state)


@pytest.mark.parametrize("edited_loss", ["squared_error", "quantile"])
def test_a_loss_parameter_edited_away_from_the_fitted_network_is_refused(edited_loss):
    """A Gaussian network whose ``loss`` parameter says otherwise would predict its
    variance column as a second target (or a quantile): refused through pickle and
    through skfnn.io, naming both losses; the unedited state loads."""
    X, y = make_regression(n_samples=80, n_features=3, random_state=0)
    model = quiet(FNNRegressor((4,), loss="gaussian_nll", max_iter=10, random_state=0).fit,
                  X, y)
    state = model.__getstate__()
    FNNRegressor().__setstate__(dict(state))  # as saved: fine
    state["loss"] = edited_loss
    with pytest.raises(ValueError, match=r"loss parameters make .* trained with GaussianNLL"):
        FNNRegressor().__setstate__(state)
    edited = copy.copy(model)
    edited.loss = edited_loss
    with pytest.raises(ValueError, match=r"trained with GaussianNLL"):
        skfnn_io.loads(skfnn_io.dumps(edited))

"""ONNX export (skfnn.onnx): onnxruntime reproduces skfnn's predictions.

Every configuration is fitted, converted, run with onnxruntime and compared
with the estimator's own ``predict`` / ``predict_proba`` on the same input:
probabilities and regression outputs within 1e-5 of their scale in float32
(1e-12 in float64), labels equal wherever the decision is not within 1e-5 of
a tie. Shapes and output conventions are compared with what skl2onnx does
for scikit-learn's own estimators.
"""

import importlib
import sys

import numpy as np
import onnxruntime as ort
import pytest
import skl2onnx
from numpy.testing import assert_array_equal
from sklearn.decomposition import PCA
from sklearn.linear_model import LinearRegression
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skfnn.onnx
from skfnn import Activation, FNNClassifier, FNNRegressor
from skfnn.activations import ACTIVATIONS, ELU, LeakyReLU, ReLU

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ELEMENTWISE = [name for name, cls in ACTIVATIONS.items() if cls.elementwise]
TASKS = ["regression", "multioutput", "binary", "multiclass", "multilabel"]
RTOL = {np.float32: 1e-5, np.float64: 1e-12}
TIE = 1e-5  # decisions this close to a tie may go either way in float32

RNG = np.random.RandomState(0)
X = RNG.standard_normal((150, 4))


def targets(task):
    """y for ``task``: smooth functions of X, string labels for multiclass."""
    s = X[:, 0] + 0.5 * X[:, 1] ** 2 - X[:, 2] * X[:, 3]
    return {
        "regression": s,
        "multioutput": np.column_stack([s, X[:, 1], np.sin(X[:, 2])]),
        "poisson": np.exp(0.5 * X[:, 0]),
        "binary": (s > 0.5).astype(int) * 4 + 3,  # integer labels 3 and 7
        "multiclass": np.array(["cat", "dog", "emu"])[np.digitize(s, [0, 1.5])],
        "multilabel": np.column_stack([s > 0.5, X[:, 1] > 0, X[:, 2] > X[:, 3]]).astype(int),
    }[task]


def fit(task, **params):
    Estimator = FNNRegressor if task in ("regression", "multioutput", "poisson") else FNNClassifier
    params = {"hidden_layer_sizes": (6, 5), "solver": "lbfgs", "max_iter": 40,
              "random_state": 0, **params}
    return Estimator(**params).fit(X, targets(task))


def run(onx, X_input):
    """onnxruntime's outputs of model ``onx`` on X, by output name."""
    session = ort.InferenceSession(onx.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {session.get_inputs()[0].name: X_input}), strict=True))


def relative_error(actual, expected):
    """max |actual - expected| over the largest |expected|: error relative to the scale."""
    expected = np.asarray(expected, dtype=np.float64)
    return np.abs(np.asarray(actual, dtype=np.float64) - expected).max() / np.abs(expected).max()


def prediction(model, X_input=X):
    """What ONNX must reproduce: probabilities of a classifier, outputs of a regressor."""
    if hasattr(model, "predict_proba"):
        return model.predict_proba(X_input)
    return model.predict(X_input).reshape(len(X_input), -1)


def margins(model, X_input):
    """How far each of ``predict``'s decisions is from a tie, in probability."""
    proba = model.predict_proba(X_input)
    if model.predict(X_input[:1]).ndim == 2:  # multilabel: each label thresholded
        return np.abs(proba - 0.5)
    if proba.shape[1] == 2:
        return np.abs(proba[:, 1] - 0.5)
    top = np.sort(proba, axis=1)
    return top[:, -1] - top[:, -2]


def assert_labels_match(label, model, X_input):
    expected = model.predict(X_input)
    decisive = margins(model, X_input) > TIE
    assert decisive.mean() > 0.9  # the comparison covers almost every decision
    assert_array_equal(np.asarray(label)[decisive], expected[decisive])


def assert_matches(model, dtype=np.float32, onx=None, X_input=X):
    """Convert ``model`` for ``dtype`` input, run it, compare with skfnn; return the error."""
    X_input = X_input.astype(dtype)
    if onx is None:
        onx = skl2onnx.to_onnx(model, X_input[:1], options={FNNClassifier: {"zipmap": False}})
    out = run(onx, X_input)
    if "variable" in out:  # a regressor
        assert out["variable"].shape == (len(X_input), model.n_outputs_)
        error = relative_error(out["variable"], prediction(model, X_input))
    else:
        assert out["probabilities"].dtype == dtype
        error = relative_error(out["probabilities"], prediction(model, X_input))
        assert_labels_match(out["label"], model, X_input)
    assert error <= RTOL[dtype], error
    return error


def node_types(onx):
    return [node.op_type for node in onx.graph.node]


# ----------------------------------------------------------------------
# Every activation, hidden and output, on every task
# ----------------------------------------------------------------------
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("activation", ELEMENTWISE)
def test_hidden_activation_float32(activation, task):
    assert_matches(fit(task, activation=activation))


@pytest.mark.parametrize("out_activation", ELEMENTWISE)
@pytest.mark.parametrize("task", ["regression", "multioutput"])
def test_regressor_output_activation_float32(out_activation, task):
    assert_matches(fit(task, activation="tanh", out_activation=out_activation))


# A classifier's output activation must map into [0, 1] (its outputs are probabilities).
PROBABILITY_OUTPUTS = [a for a in ELEMENTWISE if ACTIVATIONS[a]().output_range is not None
                       and 0 <= ACTIVATIONS[a]().output_range[0]
                       and ACTIVATIONS[a]().output_range[1] <= 1]


@pytest.mark.parametrize("out_activation", PROBABILITY_OUTPUTS)
@pytest.mark.parametrize("task", ["binary", "multilabel"])
def test_classifier_output_activation_float32(out_activation, task):
    model = fit(task, activation="tanh", out_activation=out_activation, loss="squared_error")
    assert_matches(model)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("activation", [a for a in ELEMENTWISE if a != "gelu"])
def test_hidden_activation_float64(activation, task):
    assert_matches(fit(task, activation=activation), dtype=np.float64)


@pytest.mark.parametrize("out_activation", [a for a in ELEMENTWISE if a != "gelu"])
def test_output_activation_float64(out_activation):
    assert_matches(fit("multioutput", activation="elu", out_activation=out_activation),
                   dtype=np.float64)


@pytest.mark.parametrize("position", ["activation", "out_activation"])
def test_gelu_float64_is_refused_at_conversion(position):
    model = fit("regression", **{position: "gelu"})
    with pytest.raises(ValueError, match="gelu .* float64 .* Erf"):
        skfnn.onnx.to_onnx(model, X[:1])


def test_float64_graph_has_no_operator_without_a_float64_kernel():
    # onnxruntime's CPU provider runs LeakyRelu, Elu and Softplus in float32 only.
    model = fit("regression", activation=["leaky_relu", "elu", "softplus"],
                hidden_layer_sizes=(5, 5, 5))
    assert {"LeakyRelu", "Elu", "Softplus"} <= set(node_types(skfnn.onnx.to_onnx(
        model, X[:1].astype(np.float32))))
    float64_types = set(node_types(skfnn.onnx.to_onnx(model, X[:1])))
    assert not {"LeakyRelu", "Elu", "Softplus"} & float64_types
    assert_matches(model, dtype=np.float64)


@pytest.mark.parametrize("out_activation", ["softplus", "silu"])
def test_float64_formulas_keep_relative_accuracy_of_tiny_values(out_activation):
    """softplus(z) ≈ e^z and silu(z) ≈ z e^z for very negative z: log1p(e^z) is not
    the 0 that log(1 + e^z) rounds to, and z / (1 + e^{-z}) does not overflow to NaN."""
    model = FNNRegressor((3,), activation="identity", out_activation=out_activation,
                         solver="lbfgs", max_iter=5, random_state=0).fit(X, X[:, 0])
    model.intercepts_[-1][...] = -50.0  # outputs near ±e^-50
    out = run(skfnn.onnx.to_onnx(model, X[:1]), X)["variable"].ravel()
    expected = model.predict(X)
    assert np.all(np.abs(expected) < 1e-15)
    np.testing.assert_allclose(out, expected, rtol=1e-12)


# ----------------------------------------------------------------------
# Activation parameters, per-layer lists, Poisson, float32 fits
# ----------------------------------------------------------------------
@pytest.mark.parametrize("task", ["multioutput", "multiclass"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_per_layer_activations_with_parameters(task, dtype):
    layers = [LeakyReLU(negative_slope=0.3), ELU(alpha=0.4), "silu", "softplus"]
    model = fit(task, activation=layers, hidden_layer_sizes=(6, 6, 5, 4))
    assert_matches(model, dtype)
    # The parameters matter: the same weights with the default ones predict otherwise.
    default = fit(task, activation=["leaky_relu", "elu", "silu", "softplus"],
                  hidden_layer_sizes=(6, 6, 5, 4))
    default.coefs_, default.intercepts_ = model.coefs_, model.intercepts_
    assert relative_error(prediction(default), prediction(model)) > 1e-3


def test_per_layer_list_with_gelu_float32():
    assert_matches(fit("binary", activation=["gelu", "logistic", "relu"],
                       hidden_layer_sizes=(5, 5, 5)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_poisson_uses_the_exp_output(dtype):
    model = fit("poisson", loss="poisson")
    onx = skfnn.onnx.to_onnx(model, X[:1].astype(dtype))
    assert node_types(onx)[-2:] == ["Exp", "Identity"]
    assert_matches(model, dtype, onx=onx)


def test_integer_input_is_cast_to_float32():
    X_int = np.round(10 * X).astype(np.int64)
    model = FNNRegressor((5,), solver="lbfgs", max_iter=40, random_state=0)
    model.fit(X_int, targets("regression"))
    onx = skl2onnx.to_onnx(model, X_int[:1])
    assert node_types(onx)[0] == "Cast"
    out = run(onx, X_int)["variable"]
    assert out.dtype == np.float32
    assert relative_error(out, prediction(model, X_int)) <= 1e-5


def test_model_fitted_in_float32():
    model = FNNClassifier((6, 5), activation="gelu", solver="lbfgs", max_iter=40,
                          random_state=0).fit(X.astype(np.float32), targets("multiclass"))
    assert model.coefs_[0].dtype == np.float32
    assert_matches(model)


# ----------------------------------------------------------------------
# Output conventions: shapes, labels, options
# ----------------------------------------------------------------------
def test_regressor_shapes_follow_skl2onnx_for_scikit_learn_regressors():
    X32 = X.astype(np.float32)
    single = run(skfnn.onnx.to_onnx(fit("regression"), X32[:1]), X32)["variable"]
    sk_single = run(skl2onnx.to_onnx(LinearRegression().fit(X, targets("regression")),
                                     X32[:1]), X32)["variable"]
    assert single.shape == sk_single.shape == (len(X), 1)
    multi = run(skfnn.onnx.to_onnx(fit("multioutput"), X32[:1]), X32)["variable"]
    sk_multi = run(skl2onnx.to_onnx(LinearRegression().fit(X, targets("multioutput")),
                                    X32[:1]), X32)["variable"]
    assert multi.shape == sk_multi.shape == (len(X), 3)


def test_skl2onnx_flattens_mlp_regressor_multioutput():
    """The behaviour docs/deploying.md describes: MLPRegressor's k outputs become
    n k rows of one column (row i's outputs at rows i k .. i k + k - 1)."""
    mlp = MLPRegressor(hidden_layer_sizes=(5,), max_iter=50, random_state=0)
    mlp.fit(X, targets("multioutput"))
    X32 = X.astype(np.float32)
    out = run(skl2onnx.to_onnx(mlp, X32[:1]), X32)["variable"]
    assert out.shape == (3 * len(X), 1)
    assert relative_error(out.reshape(len(X), 3), mlp.predict(X32)) < 1e-5


@pytest.mark.parametrize("labels", [
    np.array([3, 7]), np.array([False, True]), np.array([1.0, 4.0]), np.array(["no", "yes"]),
])
def test_binary_labels_of_every_type(labels):
    y = labels[(targets("regression") > 0.5).astype(int)]
    model = FNNClassifier((5,), solver="lbfgs", max_iter=40, random_state=0).fit(X, y)
    out = run(skfnn.onnx.to_onnx(model, X[:1].astype(np.float32)), X.astype(np.float32))
    kind = "O" if labels.dtype.kind == "U" else "i"  # int64 for int, bool and float labels
    assert out["label"].dtype.kind == kind and out["label"].shape == (len(X),)
    assert_matches(model)


def test_multiclass_integer_labels():
    y = np.array([10, 20, 30])[np.digitize(targets("regression"), [0, 1.5])]
    assert_matches(FNNClassifier((5,), solver="lbfgs", max_iter=40, random_state=0).fit(X, y))


def test_multilabel_outputs_an_indicator_matrix():
    model = fit("multilabel")
    out = run(skfnn.onnx.to_onnx(model, X[:1].astype(np.float32)), X.astype(np.float32))
    assert out["label"].dtype == np.int64 and out["label"].shape == (len(X), 3)
    assert out["probabilities"].shape == (len(X), 3)


def test_zipmap_default_of_skl2onnx():
    """Without options, skl2onnx outputs a {label: probability} map per row, as for
    scikit-learn's classifiers."""
    model = fit("multiclass")
    X32 = X.astype(np.float32)
    out = run(skl2onnx.to_onnx(model, X32[:1]), X32)
    assert list(out) == ["output_label", "output_probability"]
    proba = model.predict_proba(X32)
    for row, expected in zip(out["output_probability"], proba, strict=True):
        assert list(row) == list(model.classes_)
        np.testing.assert_allclose(list(row.values()), expected, atol=1e-6)


def test_zipmap_columns_nocl_and_output_class_labels():
    model = fit("multiclass")
    X32 = X.astype(np.float32)
    columns = run(skl2onnx.to_onnx(model, X32[:1], options={"zipmap": "columns"}), X32)
    proba = model.predict_proba(X32)
    for k, label in enumerate(model.classes_):
        assert relative_error(columns["s" + label], proba[:, k]) < 1e-5
    nocl = run(skl2onnx.to_onnx(model, X32[:1], options={"zipmap": False, "nocl": True}), X32)
    assert_array_equal(model.classes_[nocl["label"]], model.predict(X32))
    labelled = run(skl2onnx.to_onnx(
        model, X32[:1], options={"zipmap": False, "output_class_labels": True}), X32)
    assert_array_equal(labelled["class_labels"], model.classes_)


def test_float64_zipmap_is_refused_at_conversion():
    # ONNX's ZipMap takes float32 only; scikit-learn's classifiers fail the same way.
    with pytest.raises(ValueError, match="ZipMap accepts float32"):
        skl2onnx.to_onnx(fit("binary"), X[:1])
    assert_matches(fit("binary"), dtype=np.float64)  # zipmap=False works


@pytest.mark.parametrize("opset", [skfnn.onnx.MIN_OPSET, 19, 20, None])
def test_opsets(opset):
    """Gelu is an operator from opset 20; below, its erf formula."""
    model = fit("multiclass", activation=list(ELEMENTWISE), hidden_layer_sizes=[4] * 10)
    onx = skfnn.onnx.to_onnx(model, X[:1].astype(np.float32), target_opset=opset)
    domain_opset = {o.domain: o.version for o in onx.opset_import}[""]
    assert domain_opset == (opset or skl2onnx.get_latest_tested_opset_version())
    assert ("Gelu" in node_types(onx)) == (domain_opset >= 20)
    assert ("Erf" in node_types(onx)) == (domain_opset < 20)
    assert_matches(model, onx=onx)


def test_opset_below_the_minimum_is_refused():
    model = fit("regression")
    with pytest.raises(ValueError, match="target_opset"):
        skfnn.onnx.to_onnx(model, X[:1].astype(np.float32), target_opset=12)
    with pytest.raises(ValueError, match="target_opset >= 13"):
        skl2onnx.to_onnx(model, X[:1].astype(np.float32), target_opset=12)


# ----------------------------------------------------------------------
# Pipelines
# ----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pipeline_classifier_with_string_labels(dtype):
    X_raw = X * [1, 10, 100, 1000] + 50  # scaling matters
    pipe = make_pipeline(StandardScaler(), FNNClassifier((6,), activation="elu",
                                                         solver="lbfgs", max_iter=60,
                                                         random_state=0))
    pipe.fit(X_raw, targets("multiclass"))
    onx = skl2onnx.to_onnx(pipe, X_raw[:1].astype(dtype), options={"zipmap": False})
    out = run(onx, X_raw.astype(dtype))
    assert relative_error(out["probabilities"], pipe.predict_proba(X_raw.astype(dtype))) \
        <= RTOL[dtype]
    assert_labels_match(out["label"], pipe, X_raw.astype(dtype))


def test_pipeline_regressor_through_the_convenience():
    pipe = make_pipeline(StandardScaler(), PCA(3), FNNRegressor((5,), activation="softplus",
                                                                 solver="lbfgs", max_iter=60,
                                                                 random_state=0))
    pipe.fit(X, targets("multioutput"))
    X32 = X.astype(np.float32)
    out = run(skfnn.onnx.to_onnx(pipe, X32[:1]), X32)["variable"]
    assert out.shape == (len(X), 3)
    assert relative_error(out, pipe.predict(X32)) <= 1e-5


# ----------------------------------------------------------------------
# Custom activations
# ----------------------------------------------------------------------
class Cube(Activation):
    """σ(z) = z³ / 3 (registered below)."""

    name = "cube"

    def forward(self, z):
        return z**3 / 3

    def derivative(self, z, a):
        return z**2


class Unregistered(Cube):
    """Redefines σ: must not inherit Cube's ONNX formula."""

    def forward(self, z):
        return z**3


class WideReLU(ReLU):
    """Only the initialisation differs: exports as ReLU."""

    init_factor = 2.0


def cube_formula(g, z, sigma):
    return g.op("Div", g.op("Mul", z, g.op("Mul", z, z)), g.const(3.0))


def test_custom_activation_without_a_formula_names_it():
    model = fit("regression", activation=Unregistered(), max_iter=3)
    with pytest.raises(ValueError, match=r"Unregistered\(\).*test_onnx\.Unregistered.*"
                                         r"register_activation\(Unregistered"):
        skfnn.onnx.to_onnx(model, X[:1].astype(np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_registered_custom_activation(dtype):
    skfnn.onnx.register_activation(Cube, cube_formula)
    model = fit("binary", activation=["tanh", Cube()], max_iter=10)
    assert_matches(model, dtype)


def test_subclass_keeping_forward_inherits_the_formula():
    model = fit("regression", activation=WideReLU())
    assert "Relu" in node_types(skfnn.onnx.to_onnx(model, X[:1].astype(np.float32)))
    assert_matches(model)


def test_register_activation_validates_its_arguments():
    with pytest.raises(TypeError, match="class"):
        skfnn.onnx.register_activation(Cube(), cube_formula)
    with pytest.raises(TypeError, match="callable"):
        skfnn.onnx.register_activation(Cube, "Mul")


# ----------------------------------------------------------------------
# Errors and the optional dependency
# ----------------------------------------------------------------------
def test_convenience_rejects_what_is_not_a_float_matrix():
    model = fit("regression")
    with pytest.raises(TypeError, match="float32 or float64.*int64"):
        skfnn.onnx.to_onnx(model, np.zeros((1, 4), dtype=np.int64))
    with pytest.raises(ValueError, match="3 features but FNNRegressor was fitted with 4"):
        skfnn.onnx.to_onnx(model, X[:1, :3])


def test_unfitted_estimator():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        skfnn.onnx.to_onnx(FNNRegressor(), X[:1])


def test_import_without_skl2onnx_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "skl2onnx", None)  # import skl2onnx now fails
    monkeypatch.delitem(sys.modules, "skfnn.onnx")
    with pytest.raises(ImportError, match=r'pip install "skfnn\[onnx\]"'):
        importlib.import_module("skfnn.onnx")


# ----------------------------------------------------------------------------
# NaN inputs (docs/deploying.md, "Missing and non-finite values")
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("task", TASKS)
def test_a_nan_row_gives_nan_outputs_and_leaves_the_other_rows(task):
    """skfnn raises; the graph cannot (its label has no NaN): the NaN row's
    probabilities or outputs are NaN, its label is classes_[0] where the decision is a
    comparison p > 0.5 (false for NaN), and the other rows are skfnn's predictions."""
    model = fit(task)
    X_nan = X[:5].astype(np.float32)
    X_nan[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.predict(X_nan)
    outputs = run(skfnn.onnx.to_onnx(model, X_nan[:1]), X_nan)
    values = outputs["probabilities" if "probabilities" in outputs else "variable"]
    assert np.isnan(values[2]).all()
    others = [0, 1, 3, 4]
    assert relative_error(values[others], prediction(model, X_nan[others])) <= 1e-5
    if "label" in outputs:
        assert_labels_match(outputs["label"][others], model, X_nan[others])
    if task == "binary":
        assert outputs["label"][2] == model.classes_[0]
    if task == "multilabel":
        assert_array_equal(outputs["label"][2], 0)


def test_an_imputer_in_the_pipeline_guards_the_graph():
    from sklearn.impute import SimpleImputer

    X_missing = X.copy()
    X_missing[::7, 1] = np.nan
    pipe = make_pipeline(SimpleImputer(), FNNClassifier((6,), solver="lbfgs", max_iter=40,
                                                        random_state=0))
    pipe.fit(X_missing, targets("multiclass"))
    X32 = X_missing.astype(np.float32)
    outputs = run(skfnn.onnx.to_onnx(pipe, X32[:1]), X32)
    assert np.isfinite(outputs["probabilities"]).all()
    assert relative_error(outputs["probabilities"], pipe.predict_proba(X32)) <= 1e-5

"""ONNX export of fitted :class:`~skfnn.FNNRegressor` and :class:`~skfnn.FNNClassifier`.

Importing this module registers skl2onnx converters for both estimators, so
that ``skl2onnx.to_onnx(model, X[:1])`` converts them, alone or as the last
step of a scikit-learn :class:`~sklearn.pipeline.Pipeline`, exactly as it
converts scikit-learn's own models. :func:`to_onnx` is a shortcut that also
returns the classifier's probabilities as a plain tensor.

The graph is the forward pass of the derivation, Z^l = A^{l-1} W^l + b^l
(one ``Gemm`` per layer) and A^l = σ_l(Z^l), followed by the decoding of
``predict`` / ``predict_proba``. Each activation is written with the ONNX
operator of the same function where the target opset has one, and with its
exact formula otherwise (see docs/deploying.md for the table);
:func:`register_activation` gives the formula of a custom activation.

Needs the ``onnx`` extra: ``pip install "skfnn[onnx]"`` (skl2onnx, onnx and
onnxruntime).
"""

import math
from collections import namedtuple

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils.validation import check_is_fitted

try:
    import onnx
    import skl2onnx
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
        guess_tensor_type,
    )
    from skl2onnx.common.utils import check_input_and_output_numbers
except ImportError as error:  # pragma: no cover - the test extra installs them
    raise ImportError(
        f"skfnn.onnx needs skl2onnx and onnx ({error}); install them with "
        'pip install "skfnn[onnx]"'
    ) from error

from . import activations, losses
from ._array_api import to_numpy
from ._classifier import FNNClassifier
from ._regressor import FNNRegressor

__all__ = ["MIN_OPSET", "GraphBuilder", "register_activation", "to_onnx"]

#: The oldest ai.onnx opset the converters write (Softmax, Erf and the
#: elementwise operators in their opset-13 form).
MIN_OPSET = 13

#: ai.onnx opset from which ``Gelu`` is an operator (before: the erf formula).
_GELU_OPSET = 20

FittedModel = namedtuple("FittedModel", "coefs intercepts hidden output task classes loss",
                         defaults=(None,))
FittedModel.__doc__ = """What the export reads from a fitted estimator.

coefs, intercepts : lists of W^l (n_{l-1}, n_l) and b^l (n_l,)
hidden : list of the hidden activation objects σ_1 .. σ_{L-1}
output : the output activation object σ_L
task : "regression", "binary", "multiclass" or "multilabel-indicator"
classes : the classifier's ``classes_`` (None for a regressor)
loss : the loss object (a regressor's output head: see :func:`_regression_head`)
"""


def _network(estimator):
    """Return the :data:`FittedModel` of a fitted estimator.

    The only function here that reads skfnn's private attributes (the fitted
    network ``_net`` and ``_label_binarizer``); everything else goes through it.
    """
    check_is_fitted(estimator)
    *hidden, output = estimator._net.sigmas
    if is_classifier(estimator):
        task, classes = estimator._label_binarizer.y_type_, to_numpy(estimator.classes_)
    else:
        task, classes = "regression", None
    # A model fitted under array_api_dispatch (a GPU's tensors): its weights, on the host.
    return FittedModel([to_numpy(W) for W in estimator.coefs_],
                       [to_numpy(b) for b in estimator.intercepts_], hidden, output, task,
                       classes, estimator._net.loss)


# ----------------------------------------------------------------------
# Building the graph
# ----------------------------------------------------------------------
class GraphBuilder:
    """The graph under construction, as an activation's ONNX formula sees it.

    A formula registered with :func:`register_activation` receives one of
    these and the name of its input Z, and returns the name of σ(Z).

    Attributes
    ----------
    dtype : numpy.dtype
        The graph's floating-point type: float32, or float64 when the model
        is converted for float64 input.
    opset : int
        The target ai.onnx opset: use only operators that exist in it.
    """

    def __init__(self, scope, container, dtype):
        self._scope = scope
        self._container = container
        self.dtype = np.dtype(dtype)
        self.opset = container.target_opset

    def op(self, op_type, *inputs, output=None, **attributes):
        """Add the ai.onnx operator ``op_type`` on ``inputs``; return its output's name.

        Parameters
        ----------
        op_type : str
            An ai.onnx operator, e.g. "Mul", "Sigmoid".
        *inputs : str
            Names of its inputs (graph values or :meth:`const` names).
        output : str, optional
            The output's name; a fresh one by default.
        **attributes
            The operator's attributes, e.g. ``alpha=0.1``.
        """
        output = output or self._scope.get_unique_variable_name(op_type.lower())
        self._container.add_node(op_type, list(inputs), [output],
                                 name=self._scope.get_unique_operator_name(op_type),
                                 **attributes)
        return output

    def const(self, value, dtype=None):
        """Add a constant tensor; return its name.

        Python numbers and float arrays take the graph's dtype unless
        ``dtype`` is given; other numpy arrays (int64, str) keep theirs.
        """
        if dtype is None and isinstance(value, np.ndarray) and value.dtype.kind != "f":
            dtype = value.dtype
        value = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        name = self._scope.get_unique_variable_name("const")
        if value.dtype.kind in "OUS":
            content = [str(v).encode("utf-8") for v in value.ravel()]
            proto = onnx.TensorProto.STRING
        else:
            content, proto = value.ravel(), onnx.helper.np_dtype_to_tensor_dtype(value.dtype)
        self._container.add_initializer(name, proto, list(value.shape), content)
        return name


# ----------------------------------------------------------------------
# Activations: ONNX formula of each σ
# ----------------------------------------------------------------------
# onnxruntime's CPU provider has float kernels only for LeakyRelu, Elu,
# Softplus and Erf: a float64 graph uses the exact formula instead.
def _leaky_relu(g, z, sigma):
    slope = float(sigma.negative_slope)
    if g.dtype == np.float32:
        return g.op("LeakyRelu", z, alpha=slope)
    return g.op("Where", _positive(g, z), z, g.op("Mul", z, g.const(slope)))


def _elu(g, z, sigma):
    alpha = float(sigma.alpha)
    if g.dtype == np.float32:
        return g.op("Elu", z, alpha=alpha)
    # e^{min(z, 0)} cannot overflow on the branch that Where discards.
    expm1 = g.op("Sub", g.op("Exp", g.op("Min", z, g.const(0.0))), g.const(1.0))
    return g.op("Where", _positive(g, z), z, g.op("Mul", expm1, g.const(alpha)))


def _softplus(g, z, sigma):
    if g.dtype == np.float32:
        return g.op("Softplus", z)
    # log(1 + e^z) = max(z, 0) + log1p(e^{-|z|}), as numpy's logaddexp(0, z).
    u = g.op("Exp", g.op("Neg", g.op("Abs", z)))
    return g.op("Add", g.op("Max", z, g.const(0.0)), _log1p(g, u))


def _log1p(g, u):
    """log(1 + u) accurate for small u, with no Log1p operator in ONNX.

    Goldberg's identity: with w = fl(1 + u), log1p(u) = log(w) u / (w - 1),
    and u itself where w rounds to 1.
    """
    w = g.op("Add", u, g.const(1.0))
    w_minus_1 = g.op("Sub", w, g.const(1.0))
    exact = g.op("Equal", w_minus_1, g.const(0.0))
    ratio = g.op("Div", u, g.op("Where", exact, g.const(1.0), w_minus_1))
    return g.op("Where", exact, u, g.op("Mul", g.op("Log", w), ratio))


def _gelu(g, z, sigma):
    if g.dtype != np.float32:
        raise ValueError(
            "The gelu activation cannot be exported for float64 input: it needs Erf, "
            "which has no float64 kernel in onnxruntime's CPU provider (neither has "
            "Gelu). Convert with float32 input, e.g. X[:1].astype(np.float32)."
        )
    if g.opset >= _GELU_OPSET:
        return g.op("Gelu", z)
    # z Φ(z) with Φ(z) = ½ (1 + erf(z / √2)): the exact form, as skfnn's GELU.
    phi = g.op("Mul", g.const(0.5), g.op("Add", g.const(1.0),
                                          g.op("Erf", g.op("Div", z, g.const(math.sqrt(2))))))
    return g.op("Mul", z, phi)


def _silu(g, z, sigma):
    # z / (1 + e^{-z}), not z · Sigmoid(z): onnxruntime 1.20 fuses the latter into
    # a QuickGelu that has no float64 kernel. e^{-z} = inf gives the limit -0.
    return g.op("Div", z, g.op("Add", g.const(1.0), g.op("Exp", g.op("Neg", z))))


def _positive(g, z):
    return g.op("Greater", z, g.const(0.0))


def _operator(op_type, **attributes):
    """The formula of an activation that is the ONNX operator ``op_type``."""
    return lambda g, z, sigma: g.op(op_type, z, **attributes)


_FORMULAS = {
    activations.Identity: lambda g, z, sigma: z,
    activations.Logistic: _operator("Sigmoid"),
    activations.Tanh: _operator("Tanh"),
    activations.ReLU: _operator("Relu"),
    activations.LeakyReLU: _leaky_relu,
    activations.ELU: _elu,
    activations.Softplus: _softplus,
    activations.GELU: _gelu,
    activations.SiLU: _silu,
    activations.Exp: _operator("Exp"),
    activations.Softmax: _operator("Softmax", axis=1),
}


def register_activation(cls, formula):
    """Give the ONNX formula of a custom activation class.

    Parameters
    ----------
    cls : type
        The activation's class. Its subclasses that do not redefine
        ``forward`` use the same formula.
    formula : callable
        ``formula(g, z, activation) -> name``: given a :class:`GraphBuilder`
        ``g``, the name ``z`` of the pre-activation Z (2-D, one row per
        sample) and the activation object (for its parameters), add the
        nodes that compute σ(Z) with ``g.op`` / ``g.const`` and return the
        name of the result.

    Examples
    --------
    LeCun's scaled tanh, σ(z) = 1.7159 tanh(2z / 3), as a subclass of Tanh
    (which must not inherit Tanh's formula, since it redefines ``forward``):

    >>> import numpy as np
    >>> from skfnn.activations import Tanh
    >>> from skfnn.onnx import register_activation
    >>> class LeCunTanh(Tanh):
    ...     name = "lecun_tanh"
    ...     def forward(self, z):
    ...         return 1.7159 * np.tanh(2 * z / 3)
    ...     def derivative(self, z, a):
    ...         return 2 / 3 * (1.7159 - a**2 / 1.7159)
    >>> def lecun_tanh(g, z, activation):
    ...     tanh = g.op("Tanh", g.op("Mul", z, g.const(2 / 3)))
    ...     return g.op("Mul", tanh, g.const(1.7159))
    >>> register_activation(LeCunTanh, lecun_tanh)

    docs/deploying.md converts and runs a model with a custom activation.
    """
    if not isinstance(cls, type):
        raise TypeError(f"cls must be an activation class, got {cls!r}.")
    if not callable(formula):
        raise TypeError(f"formula must be callable as formula(g, z, activation), got {formula!r}.")
    _FORMULAS[cls] = formula


def _formula(sigma):
    """The ONNX formula of activation object ``sigma``.

    A subclass inherits its parent's formula unless it redefines ``forward``
    (then it computes another function).
    """
    for cls in type(sigma).__mro__:
        if cls in _FORMULAS:
            return _FORMULAS[cls]
        if "forward" in vars(cls):
            break
    raise ValueError(
        f"The activation {sigma!r} ({type(sigma).__module__}.{type(sigma).__qualname__}) "
        "has no ONNX formula. Give one with skfnn.onnx.register_activation("
        f"{type(sigma).__name__}, formula) before converting."
    )


def _forward(g, x, net):
    """A^L of the network on input ``x``: one Gemm and one σ per layer."""
    a = x
    sigmas = [*net.hidden, net.output]
    for W, b, sigma in zip(net.coefs, net.intercepts, sigmas, strict=True):
        z = g.op("Gemm", a, g.const(W), g.const(b))  # Z^l = A^{l-1} W^l + b^l
        a = _formula(sigma)(g, z, sigma)  # A^l = σ_l(Z^l)
    return a


# ----------------------------------------------------------------------
# skl2onnx converters and shape calculators
# ----------------------------------------------------------------------
def _float_type(operator):
    """float64 if the input is, float32 otherwise (as skl2onnx's converters)."""
    if isinstance(operator.inputs[0].type, DoubleTensorType):
        return DoubleTensorType
    return FloatTensorType


def _check_input(operator, net):
    n_outputs = [1, 2] if net.task == "regression" else 2
    check_input_and_output_numbers(operator, input_count_range=1,
                                   output_count_range=n_outputs)
    shape = operator.inputs[0].type.shape
    n_features = net.coefs[0].shape[0]
    if len(shape) == 2 and isinstance(shape[1], int) and shape[1] != n_features:
        raise ValueError(
            f"The ONNX input has {shape[1]} features but "
            f"{type(operator.raw_operator).__name__} was fitted with {n_features}."
        )


def _regressor_shape(operator):
    net = _network(operator.raw_operator)
    _check_input(operator, net)
    n = operator.inputs[0].get_first_dimension()
    width = net.coefs[-1].shape[1] // _head_blocks(net)
    for output in operator.outputs:  # the prediction, and the std if asked for
        output.type = _float_type(operator)([n, width])


def _head_blocks(net):
    """Outputs per target of what ``predict`` returns: 1 for the mean of a Gaussian head."""
    if isinstance(net.loss, losses.GaussianNLLLoss):
        return 2
    return 1


def _parse_regressor(scope, model, inputs, custom_parsers=None):
    """Outputs "variable" (``predict``), and "std" with the option return_std=True."""
    options = scope.get_options(model, dict(return_std=False))
    operator = scope.declare_local_operator("SkfnnFNNRegressor", model)
    operator.inputs = inputs
    names = ["variable", "std"] if options["return_std"] else ["variable"]
    for name in names:
        operator.outputs.append(scope.declare_local_variable(
            name, guess_tensor_type(inputs[0].type)))
    return operator.outputs


def _regression_head(g, a, net, outputs):
    """Write ``predict`` (and ``predict(return_std=True)``'s std) of the output head.

    One output per target (squared error, Poisson, Gamma, ...) and quantile heads:
    A^L itself, quantile-major as ``predict``. A Gaussian head [μ, s]: μ, and
    std = √(softplus(s) + min_variance). A custom loss that maps its outputs
    (``predict``) has no known formula.
    """
    loss = net.loss
    gaussian = isinstance(loss, losses.GaussianNLLLoss)
    if not gaussian and losses.optional(loss, "predict") is not None:
        raise ValueError(f"The loss {loss!r} maps the network's outputs to its predictions "
                         "(predict), which has no ONNX formula; only the built-in heads "
                         "can be exported.")
    if len(outputs) > 1 and not gaussian:
        raise ValueError(f"return_std=True needs a loss that predicts a distribution "
                         f"(loss='gaussian_nll'); this model's loss is {loss!r}.")
    if not gaussian:
        g.op("Identity", a, output=outputs[0])
        return
    k = net.coefs[-1].shape[1] // 2
    mu, s = (g.op("Slice", a, g.const([start], dtype=np.int64),
                  g.const([stop], dtype=np.int64), g.const([1], dtype=np.int64))
             for start, stop in ((0, k), (k, 2 * k)))
    g.op("Identity", mu, output=outputs[0])
    if len(outputs) > 1:
        variance = g.op("Add", _softplus(g, s, None), g.const(float(loss.min_variance)))
        g.op("Sqrt", variance, output=outputs[1])


def _classifier_shape(operator):
    net = _network(operator.raw_operator)
    _check_input(operator, net)
    zipmap = operator.scope_inst.get_options(operator.raw_operator, dict(zipmap=True))
    if _float_type(operator) is DoubleTensorType and zipmap["zipmap"] is True:
        raise ValueError(
            "ONNX's ZipMap accepts float32 probabilities only: convert a classifier for "
            "float64 input with options={'zipmap': False} (or 'columns')."
        )
    n = operator.inputs[0].get_first_dimension()
    labels = _labels(net, _nocl(operator.scope_inst, operator))
    label_type = StringTensorType if labels.dtype.kind == "U" else Int64TensorType
    if net.task == "multilabel-indicator":
        operator.outputs[0].type = Int64TensorType([n, len(net.classes)])
    else:
        operator.outputs[0].type = label_type([n])
    n_columns = 2 if net.task == "binary" else len(net.classes)
    operator.outputs[1].type = _float_type(operator)([n, n_columns])


def _nocl(scope, operator):
    """skl2onnx's option nocl: class indices 0, 1, ... instead of the labels."""
    return scope.get_options(operator.raw_operator, dict(nocl=False))["nocl"]


def _labels(net, nocl=False):
    """The class labels as an ONNX tensor holds them: int64 or str.

    For a binary target the entries are indexed by [p > 0.5].
    """
    classes = np.arange(len(net.classes)) if nocl else net.classes
    if classes.dtype.kind in "OUS":
        if not all(isinstance(c, str) for c in classes):
            raise ValueError(
                "ONNX labels are int64 or strings; classes_ mixes other types: "
                f"{list(net.classes)}."
            )
        return classes.astype(str)
    labels = classes.astype(np.int64)
    if not np.array_equal(labels, classes):
        raise ValueError(f"ONNX labels are int64 or strings; got classes_ {net.classes}.")
    return labels


def _convert(scope, operator, container):
    net = _network(operator.raw_operator)
    if container.target_opset < MIN_OPSET:
        raise ValueError(
            f"skfnn's ONNX converters need target_opset >= {MIN_OPSET}; got "
            f"{container.target_opset}."
        )
    float_type = _float_type(operator)
    g = GraphBuilder(scope, container, np.float64 if float_type is DoubleTensorType
                     else np.float32)
    x = operator.inputs[0].full_name
    if not isinstance(operator.inputs[0].type, float_type):
        x = g.op("Cast", x, to=onnx.helper.np_dtype_to_tensor_dtype(g.dtype))
    a = _forward(g, x, net)
    outputs = [v.full_name for v in operator.outputs]
    if net.task == "regression":
        _regression_head(g, a, net, outputs)
    else:
        _decode_classes(g, a, _labels(net, _nocl(scope, operator)), net.task, *outputs)


def _decode_classes(g, a, labels, task, label, proba):
    """Write ``predict`` into ``label`` and ``predict_proba`` into ``proba``.

    As skfnn's LabelBinarizer decoding: one output unit p per label
    thresholded at p > 0.5 (binary, multilabel), the first largest
    probability (multiclass); binary probabilities are [1 - p, p].
    """
    if task == "multilabel-indicator":
        g.op("Identity", a, output=proba)
        g.op("Cast", g.op("Greater", a, g.const(0.5)), to=onnx.TensorProto.INT64,
             output=label)
        return
    if task == "multiclass":
        g.op("Identity", a, output=proba)
        index = g.op("ArgMax", a, axis=1, keepdims=0)
    else:
        g.op("Concat", g.op("Sub", g.const(1.0), a), a, axis=1, output=proba)
        above = g.op("Cast", g.op("Greater", a, g.const(0.5)), to=onnx.TensorProto.INT64)
        index = g.op("Reshape", above, g.const([-1], dtype=np.int64))
    g.op("Gather", g.const(labels), index, axis=0, output=label)


skl2onnx.update_registered_converter(
    FNNRegressor, "SkfnnFNNRegressor", _regressor_shape, _convert, parser=_parse_regressor,
    options={"return_std": [False, True]})
# Declaring the zipmap option makes skl2onnx parse the classifier as its own
# classifiers: outputs label and probabilities, ZipMap unless zipmap=False.
skl2onnx.update_registered_converter(
    FNNClassifier, "SkfnnFNNClassifier", _classifier_shape, _convert,
    options={"zipmap": [True, False, "columns"], "nocl": [False, True],
             "output_class_labels": [False, True]})


# ----------------------------------------------------------------------
# Convenience
# ----------------------------------------------------------------------
def to_onnx(estimator, X_sample, *, target_opset=None, zipmap=False, return_std=False):
    """Convert a fitted skfnn estimator, or a pipeline ending in one, to ONNX.

    A thin layer over ``skl2onnx.to_onnx`` (which works as well once this
    module is imported): the input is one float tensor named "X", and a
    classifier's probabilities are a plain tensor unless ``zipmap``.

    Parameters
    ----------
    estimator : FNNRegressor, FNNClassifier or Pipeline
        Fitted. A pipeline's other steps need skl2onnx converters
        (scikit-learn's transformers have them).
    X_sample : array-like of shape (n_samples, n_features)
        A few rows of input; only the dtype and the number of features are
        used: float32 gives a float32 graph, float64 a float64 one.
    target_opset : int, default=None
        The ai.onnx opset, at least :data:`MIN_OPSET`; None takes
        skl2onnx's latest tested opset (bounded by the installed onnx).
    zipmap : bool or "columns", default=False
        skl2onnx's option for classifiers: False outputs the probabilities
        as an (n_samples, n_classes) tensor as ``predict_proba``; True as a
        list of {label: probability} maps (skl2onnx's default).
    return_std : bool, default=False
        For a regressor with ``loss="gaussian_nll"``: a second output "std",
        as ``predict(X, return_std=True)`` (skl2onnx's option of the same
        name, as for ``BayesianRidge``).

    Returns
    -------
    onnx.ModelProto
        Outputs "variable" (a regressor: what ``predict`` returns, as a 2-D
        tensor: the means of a Gaussian head, every quantile of a quantile
        head), with "std" if ``return_std``; or "label" and "probabilities"
        (a classifier).

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from sklearn.datasets import load_iris
    >>> from skfnn import FNNClassifier
    >>> from skfnn.onnx import to_onnx
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = FNNClassifier((8,), solver="lbfgs", random_state=0).fit(X, y)
    >>> X32 = X.astype(np.float32)
    >>> session = ort.InferenceSession(to_onnx(clf, X32[:1]).SerializeToString())
    >>> label, proba = session.run(None, {"X": X32})
    >>> bool((label == clf.predict(X32)).all())
    True
    >>> bool(np.allclose(proba, clf.predict_proba(X32), atol=1e-5))
    True
    """
    X_sample = np.asarray(X_sample)
    if X_sample.ndim != 2 or X_sample.dtype not in (np.float32, np.float64):
        raise TypeError(
            "X_sample must be a 2-D float32 or float64 array (it sets the ONNX input "
            f"type); got dtype {X_sample.dtype} and shape {X_sample.shape}."
        )
    tensor_type = FloatTensorType if X_sample.dtype == np.float32 else DoubleTensorType
    if target_opset is not None and target_opset < MIN_OPSET:
        raise ValueError(f"target_opset must be at least {MIN_OPSET}; got {target_opset}.")
    return skl2onnx.to_onnx(
        estimator, initial_types=[("X", tensor_type([None, X_sample.shape[1]]))],
        target_opset=target_opset, options={FNNClassifier: {"zipmap": zipmap},
                                            FNNRegressor: {"return_std": return_std}})

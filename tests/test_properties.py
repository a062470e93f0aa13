"""Property-based test: every call gives a valid model or a clear error (issue 8).

hypothesis draws the data (shape, float32 / float64, scale), the target (1-D
and 2-D regression, binary, multiclass, multilabel, degenerate ones: a single
class, a constant column, a class seen once), the parameters (hidden sizes,
activations by name, per layer or as objects, solver, alpha, batch size, a few
iterations, output activation, loss, sample weights) and custom objects, good
and subtly broken (a derivative of the wrong shape, NaN, a loss returning a
vector). Whatever is drawn, fitting either

- succeeds with a valid model: finite predictions of the right shape and dtype,
  equal to the network recomputed from ``coefs_``; for a classifier,
  ``classes_`` consistent with y, probabilities in [0, 1] summing to 1 per row
  (binary and multiclass), ``predict`` their decision, and
  ``exp(predict_log_proba) == predict_proba``; or
- raises ValueError or TypeError whose message names one of the known problems,
  and then the estimator is left unfitted; and draws that are certain to be
  wrong (one class, a broken object that the first step must catch) always raise.

The examples are derandomized, so the test is reproducible; set
``SKFNN_HYPOTHESIS_EXAMPLES`` to draw more of them (and ``SKFNN_HYPOTHESIS_RANDOM=1``
for fresh random draws) when hunting.
"""

import os
import re
import warnings

import numpy as np
import pytest
from helpers import (
    BrokenSquaredError,
    BrokenTanh,
    DeclaredLogistic,
    PlainLogistic,
    PlainSquaredError,
    PlainTanh,
    SharpLogistic,
    TwiceLogistic,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from skfnn import FNNClassifier, FNNRegressor

HIDDEN_NAMES = ["identity", "logistic", "tanh", "relu", "leaky_relu", "elu", "softplus",
                "gelu", "silu"]

#: What an error message may be about: each pattern names one problem.
KNOWN_PROBLEMS = [
    r"at least 2 classes",                                   # one class in y
    r"negative",                                             # poisson targets
    r"softmax",                                              # softmax misplaced
    r"not probabilities|output_range",                       # classifier outputs
    r"validation set is too small",                          # early stopping
    r"could not hold out validation_fraction",               # too little data to split
    r"total weight of 0",                                    # a held-out part weighs 0
    r"diverged",                                             # divergence guard
    r"returned .* from (forward|derivative|gradient|delta|__call__)",  # custom objects
    r"returned non-finite values .* from",
    r"returned values of dtype",
    r"log-loss must lie in",
]


def settings_for_ci():
    return settings(
        max_examples=int(os.environ.get("SKFNN_HYPOTHESIS_EXAMPLES", 150)),
        deadline=3000,  # ms per example: a few tiny fits
        derandomize=not os.environ.get("SKFNN_HYPOTHESIS_RANDOM"),
        database=None,  # no .hypothesis/ directory in the work tree
        suppress_health_check=[HealthCheck.too_slow],
    )


# ----------------------------------------------------------------------
# Strategies
# ----------------------------------------------------------------------
@st.composite
def data(draw):
    n = draw(st.integers(1, 40))
    n_features = draw(st.integers(1, 4))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    scale = draw(st.sampled_from([1e-3, 1.0, 1.0, 1e3]))
    rng = np.random.RandomState(draw(st.integers(0, 2**16)))
    X = rng.normal(size=(n, n_features)) * scale
    if draw(st.booleans()) and n_features > 1:
        X[:, 0] = 1.0  # a constant column
    return X.astype(dtype), rng


@st.composite
def targets(draw, X, rng):
    """(kind, y, certain_error) for data X."""
    n = X.shape[0]
    kind = draw(st.sampled_from(["regression", "regression-2d", "binary", "multiclass",
                                 "multilabel"]))
    signal = X.astype(np.float64).sum(axis=1) / max(np.abs(X).max(), 1e-300)
    degenerate = draw(st.sampled_from([None, None, "constant", "rare"]))
    if kind == "regression":
        y = signal + rng.normal(size=n) * 0.1
        y = np.zeros(n) if degenerate == "constant" else y * draw(st.sampled_from([1, 100]))
        return kind, y, None
    if kind == "regression-2d":
        y = np.c_[signal, -signal, rng.normal(size=n)][:, :draw(st.integers(1, 3))]
        return kind, y, None
    if kind == "multilabel":
        y = (np.c_[signal, -signal, rng.normal(size=n)] > 0).astype(int)
        if degenerate == "constant":
            y[:, 0] = 1  # a label that is always on
        return kind, y, None
    n_classes = 2 if kind == "binary" else draw(st.integers(3, 4))
    y = rng.randint(0, n_classes, size=n)
    if degenerate == "constant":
        y[:] = 1
    elif degenerate == "rare" and n > 1:
        y[:] = 0
        y[-1] = n_classes - 1  # the other class seen once
    if draw(st.booleans()):
        y = np.array(["ham", "spam", "eggs", "tea"])[y]
    one_class = len(np.unique(y)) < 2
    return ("binary" if len(np.unique(y)) == 2 else kind), y, (
        r"at least 2 classes" if one_class else None)


def activation_specs(n_hidden):
    one = st.sampled_from(HIDDEN_NAMES + ["plain", "broken-column", "broken-nan"])
    return st.one_of(one, st.lists(one, min_size=n_hidden, max_size=n_hidden))


def build_activation(spec):
    objects = {"plain": PlainTanh, "broken-column": lambda: BrokenTanh("column"),
               "broken-nan": lambda: BrokenTanh("nan")}
    if isinstance(spec, list):
        return [build_activation(s) for s in spec]
    return objects[spec]() if spec in objects else spec


def certain_activation_error(spec, sizes):
    """The error a broken hidden activation must cause at the first step, if any."""
    specs = spec if isinstance(spec, list) else [spec] * len(sizes)
    for s, units in zip(specs, sizes, strict=True):
        if s == "broken-nan" or (s == "broken-column" and units > 1):
            return r"BrokenTanh"
    return None


LOSSES = {
    "regressor": ["squared_error", "poisson", "absolute_error", "huber", "plain",
                  "broken-vector"],
    "classifier": ["log_loss", "squared_error", "plain", "broken-vector"],
}
OUTPUTS = {
    "regressor": ["auto", "auto", "identity", "tanh", "logistic", "plain", "softmax"],
    "classifier": ["auto", "auto", "logistic", "softmax", "tanh", "identity", "declared",
                   "undeclared", "sharp", "twice"],
}


def build_loss(spec):
    return {"plain": PlainSquaredError(),
            "broken-vector": BrokenSquaredError("call_vector")}.get(spec, spec)


def build_output(spec):
    return {"plain": PlainTanh(), "declared": DeclaredLogistic(),
            "undeclared": PlainLogistic(), "sharp": SharpLogistic(),
            "twice": TwiceLogistic()}.get(spec, spec)


@st.composite
def problems(draw):
    X, rng = draw(data())
    kind, y, certain = draw(targets(X, rng))
    task = "regressor" if kind.startswith("regression") else "classifier"
    sizes = tuple(draw(st.lists(st.integers(1, 6), min_size=0, max_size=2)))
    activation = draw(activation_specs(len(sizes))) if sizes else "relu"
    solver = draw(st.sampled_from(["sgd", "adam", "lbfgs"]))
    loss = draw(st.sampled_from(LOSSES[task]))
    params = dict(
        hidden_layer_sizes=sizes,
        activation=build_activation(activation),
        solver=solver,
        alpha=draw(st.sampled_from([0.0, 1e-4, 1.0])),
        batch_size=draw(st.one_of(st.just("auto"), st.integers(1, X.shape[0] + 3))),
        learning_rate_init=draw(st.sampled_from([1e-3, 0.1, 10.0])),
        max_iter=draw(st.integers(1, 4)),
        early_stopping=solver != "lbfgs" and draw(st.booleans()),
        loss=build_loss(loss),
        out_activation=build_output(draw(st.sampled_from(OUTPUTS[task]))),
        random_state=draw(st.integers(0, 3)),
    )
    if sizes:
        certain = certain or certain_activation_error(activation, sizes)
    if loss == "broken-vector":
        certain = certain or r"BrokenSquaredError"
    weights = draw(st.sampled_from([None, "positive", "some-zero"]))
    sample_weight = None if weights is None else rng.uniform(0.1, 2.0, X.shape[0])
    if weights == "some-zero":
        sample_weight[::2] = 0.0
        sample_weight[-1] = 1.0
    how = draw(st.sampled_from(["fit", "fit", "warm_start", "partial_fit"]))
    if how == "partial_fit" and solver == "lbfgs":
        how = "fit"  # lbfgs has no partial_fit (tested elsewhere)
    return task, kind, X, y, sample_weight, params, how, certain


# ----------------------------------------------------------------------
# The property
# ----------------------------------------------------------------------
def train(est, X, y, sample_weight, how):
    if how == "fit":
        return est.fit(X, y, sample_weight=sample_weight)
    if how == "warm_start":
        est.set_params(warm_start=True).fit(X, y, sample_weight=sample_weight)
        return est.fit(X, y, sample_weight=sample_weight)
    extra = {}
    if isinstance(est, FNNClassifier):
        extra["classes"] = np.arange(y.shape[1]) if y.ndim == 2 else np.unique(y)
    est.set_params(early_stopping=False)  # partial_fit has no early stopping
    est.partial_fit(X, y, sample_weight=sample_weight, **extra)
    return est.partial_fit(X, y, sample_weight=sample_weight)


def network_by_hand(est, X):
    """A^L from coefs_ with the estimator's activation objects' forward (not the engine)."""
    A = X.astype(est.coefs_[0].dtype)
    for sigma, W, b in zip(est._net.sigmas, est.coefs_, est.intercepts_, strict=True):
        A = sigma.forward(A @ W + b)
    return A


def tolerance(dtype):
    return dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-12)


def assert_valid_regressor(est, X, y):
    pred = est.predict(X)
    assert pred.shape == (y.shape if y.ndim == 1 or y.shape[1] > 1 else (len(y),))
    assert pred.dtype == X.dtype
    assert np.isfinite(pred).all()
    np.testing.assert_allclose(pred, network_by_hand(est, X).reshape(pred.shape),
                               **tolerance(X.dtype))


def assert_valid_classifier(est, X, y, kind):
    P = est.predict_proba(X)
    assert np.isfinite(P).all() and P.dtype == X.dtype
    assert np.all((P >= 0) & (P <= 1)), f"probabilities in [{P.min()}, {P.max()}]"
    labels = est.predict(X)
    if kind == "multilabel":
        np.testing.assert_array_equal(est.classes_, np.arange(y.shape[1]))
        assert P.shape == y.shape
        np.testing.assert_array_equal(labels, (P > 0.5).astype(int))
    else:
        np.testing.assert_array_equal(np.sort(est.classes_), np.unique(y))
        assert P.shape == (len(y), len(est.classes_))
        np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-5 if X.dtype == np.float32
                                   else 1e-12)
        decision = (P[:, 1] > 0.5).astype(int) if P.shape[1] == 2 else P.argmax(axis=1)
        np.testing.assert_array_equal(labels, est.classes_[decision])
    out = network_by_hand(est, X)
    if kind == "multiclass" and est.out_activation_ != "softmax":
        out = out / out.sum(axis=1, keepdims=True)  # one-vs-rest units, normalised
    np.testing.assert_allclose(P[:, -out.shape[1]:], out, **tolerance(X.dtype))
    eps = 10 * np.finfo(X.dtype).eps
    np.testing.assert_allclose(np.exp(est.predict_log_proba(X)), P, rtol=1e-4, atol=eps)


@settings_for_ci()
@given(problems())
def test_every_fit_gives_a_valid_model_or_a_clear_error(problem):
    task, kind, X, y, sample_weight, params, how, certain = problem
    est = (FNNRegressor if task == "regressor" else FNNClassifier)(**params)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            train(est, X, y, sample_weight, how)
        except (ValueError, TypeError) as error:
            message = str(error)
            assert any(re.search(p, message) for p in KNOWN_PROBLEMS), message
            if how == "fit":  # a failed fit from scratch leaves nothing behind
                with pytest.raises(NotFittedError):
                    check_is_fitted(est)
            return
        assert certain is None, f"expected an error about {certain!r}, got a fitted model"
        if task == "regressor":
            assert_valid_regressor(est, X, y)
        else:
            assert_valid_classifier(est, X, y, kind)

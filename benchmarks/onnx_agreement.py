"""How closely onnxruntime reproduces skfnn's predictions after ONNX export.

For every built-in hidden activation on every task, and every regressor
output activation, fits a (32, 16) network (adam, 100 epochs) on a real or synthetic data set
(standardised), converts it with ``skfnn.onnx.to_onnx`` for float32 and for
float64 input, runs it with onnxruntime's CPU provider and compares with the
estimator's own ``predict_proba`` (classifiers) or ``predict`` (regressors)
on the same input, over the whole data set.

Each cell is the largest |onnxruntime − skfnn| over the largest |skfnn|
(the error relative to the output's scale), float32 / float64; "—" marks the
configurations that cannot be exported (gelu in float64: no Erf kernel). The
"labels" column counts labels that differ from ``predict`` (float32 and
float64 together) over the decisions compared. Then per-layer activations
with parameters, and a pipeline with string labels on unscaled data.

Run from the repository root::

    python benchmarks/onnx_agreement.py     # about a minute on 2 cores
"""

import sys
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import skl2onnx
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    make_friedman1,
    make_multilabel_classification,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

# Measure this checkout's skfnn, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import skfnn.onnx  # noqa: E402
from skfnn import FNNClassifier, FNNRegressor  # noqa: E402
from skfnn.activations import ACTIVATIONS, ELU, LeakyReLU  # noqa: E402

ELEMENTWISE = [name for name, cls in ACTIVATIONS.items() if cls.elementwise]
NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def friedman_3_outputs():
    X, y = make_friedman1(n_samples=1000, random_state=0)
    return X, np.column_stack([y, X[:, 0] * X[:, 1], np.sin(3 * X[:, 2])])


TASKS = {  # task -> (estimator class, data)
    "regression (diabetes)": (FNNRegressor, lambda: load_diabetes(return_X_y=True)),
    "3 outputs (friedman1)": (FNNRegressor, friedman_3_outputs),
    "binary (breast cancer)": (FNNClassifier, lambda: load_breast_cancer(return_X_y=True)),
    "multiclass (digits)": (FNNClassifier, lambda: load_digits(return_X_y=True)),
    "multilabel (synthetic)": (FNNClassifier, lambda: make_multilabel_classification(
        n_samples=1000, n_features=20, n_classes=4, random_state=0)),
}


def data(task):
    X, y = TASKS[task][1]()
    X = StandardScaler().fit_transform(X)
    if TASKS[task][0] is FNNRegressor:
        y = (y - y.mean(axis=0)) / y.std(axis=0)
    return X, y


def run(onx, X):
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"X": X})


def compare(model, X, dtype):
    """(relative error, differing labels, labels compared) of the export for ``dtype``."""
    X = X.astype(dtype)
    try:
        onx = skfnn.onnx.to_onnx(model, X[:1])
    except ValueError:
        return None, 0, 0
    outputs = run(onx, X)
    if not hasattr(model, "predict_proba"):
        expected, labels = model.predict(X).reshape(len(X), -1), None
    else:
        expected, labels = model.predict_proba(X), model.predict(X)
    error = np.abs(outputs[-1] - expected).max() / np.abs(expected).max()
    if labels is None:
        return error, 0, 0
    return error, int((outputs[0] != labels).sum()), labels.size


def measure(task, **params):
    Estimator = TASKS[task][0]
    X, y = data(task)
    if params.get("loss") == "poisson":
        y = np.exp(y / 2)  # counts' means: positive
    params = {"hidden_layer_sizes": (32, 16), **params}
    model = Estimator(solver="adam", max_iter=100, random_state=0, **params)
    model.fit(X, y)
    return [compare(model, X, dtype) for dtype in (np.float32, np.float64)]


def cell(results):
    return " / ".join("—" if e is None else f"{e:.1e}" for e, _, _ in results)


def mismatches(rows):
    differ = sum(d for row in rows for r in row for _, d, _ in r)
    compared = sum(n for row in rows for r in row for _, _, n in r)
    return f"{differ} / {compared}"


def table(title, columns, rows):
    print(f"\n{title}\n")
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main():
    warnings.simplefilter("ignore", ConvergenceWarning)
    print(f"onnxruntime {ort.__version__}, skl2onnx {skl2onnx.__version__}, "
          f"opset {skl2onnx.get_latest_tested_opset_version()}", flush=True)
    rows = []
    for activation in ELEMENTWISE:
        # e^z of e^z overflows: exp gets one hidden layer.
        sizes = (32,) if activation == "exp" else (32, 16)
        results = [measure(task, activation=activation, hidden_layer_sizes=sizes)
                   for task in TASKS]
        name = activation + (" (32,)" if activation == "exp" else "")
        rows.append([name, *map(cell, results), mismatches([results])])
    table("Hidden activation (float32 / float64); last column: labels differing",
          ["activation", *TASKS, "labels"], rows)
    rows = []
    for out in ELEMENTWISE:
        results = [measure(task, activation="tanh", out_activation=out)
                   for task in list(TASKS)[:2]]
        rows.append([out, *map(cell, results)])
    poisson = measure("regression (diabetes)", activation="tanh", loss="poisson")
    rows.append(["exp (loss=poisson)", cell(poisson), ""])
    table("Regressor output activation (hidden tanh)", ["out_activation", *list(TASKS)[:2]],
          rows)
    layers = [LeakyReLU(negative_slope=0.3), ELU(alpha=0.4), "softplus", "silu"]
    results = [measure(task, activation=layers, hidden_layer_sizes=(32, 16, 16, 8))
               for task in TASKS]
    table("Per-layer activations [LeakyReLU(0.3), ELU(0.4), softplus, silu], (32, 16, 16, 8)",
          [*TASKS, "labels"], [[*map(cell, results), mismatches([results])]])
    X, y = load_digits(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), FNNClassifier((32, 16), max_iter=100,
                                                         random_state=0))
    results = [compare(pipe.fit(X, np.array(NAMES)[y]), X, dtype)
               for dtype in (np.float32, np.float64)]
    table("Pipeline(StandardScaler, FNNClassifier) on raw digits, string labels",
          ["probabilities", "labels"], [[cell(results), mismatches([[results]])]])


if __name__ == "__main__":
    main()

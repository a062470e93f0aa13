"""Test-set accuracy of skfnn against scikit-learn's MLP, over several seeds.

For every data set and every seed, splits the data (75 % / 25 %, stratified
for classification), fits ``StandardScaler`` followed by skfnn's estimator and
the same pipeline with scikit-learn's ``MLPClassifier`` / ``MLPRegressor``,
with identical parameters and ``random_state=seed``, and scores both on the
test set: accuracy for classification, R² for regression (the regression
targets are standardised too, through ``TransformedTargetRegressor``).

The table gives, per data set, the mean ± standard deviation over seeds of
each library's score and the largest |skfnn − scikit-learn| difference of a
single seed; the last column is the total fit time of each library in seconds.
With float64 data and identical settings skfnn reproduces
scikit-learn's training run (tests/test_parity.py), so that column is
expected to be 0 up to rounding.

Run from the repository root::

    python benchmarks/accuracy.py             # 5 seeds, a few minutes on 2 cores
    python benchmarks/accuracy.py --seeds 2
"""

import argparse
import platform
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sklearn
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    load_wine,
    make_classification,
    make_friedman1,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

# Measure this checkout's skfnn, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import skfnn  # noqa: E402
from skfnn import FNNClassifier, FNNRegressor  # noqa: E402


@dataclass
class Dataset:
    name: str
    load: object  # () -> (X, y)
    classifier: bool
    params: dict

    def settings(self):
        p = self.params
        text = f"{p['solver']} {tuple(p['hidden_layer_sizes'])}"
        for key, short in (("activation", ""), ("learning_rate_init", "lr="),
                           ("alpha", "alpha="), ("max_iter", "max_iter="),
                           ("early_stopping", "early_stopping")):
            if key in p:
                text += f" {short}{p[key] if key != 'early_stopping' else ''}"
        return text


DATASETS = [
    Dataset("iris", lambda: load_iris(return_X_y=True), True,
            dict(hidden_layer_sizes=(10,), solver="lbfgs", activation="tanh", max_iter=500)),
    Dataset("wine", lambda: load_wine(return_X_y=True), True,
            dict(hidden_layer_sizes=(32,), solver="adam", learning_rate_init=0.01, max_iter=200)),
    Dataset("breast_cancer", lambda: load_breast_cancer(return_X_y=True), True,
            dict(hidden_layer_sizes=(32,), solver="sgd", learning_rate_init=0.01, max_iter=200)),
    Dataset("digits", lambda: load_digits(return_X_y=True), True,
            dict(hidden_layer_sizes=(64,), solver="adam", max_iter=100, early_stopping=True)),
    Dataset("make_classification", lambda: make_classification(
                1000, 20, n_informative=8, n_classes=3, random_state=0), True,
            dict(hidden_layer_sizes=(32, 16), solver="adam", alpha=1e-3, max_iter=150)),
    Dataset("diabetes", lambda: load_diabetes(return_X_y=True), False,
            dict(hidden_layer_sizes=(16,), solver="lbfgs", alpha=10.0, max_iter=200)),
    Dataset("make_regression", lambda: make_regression(
                1000, 20, n_informative=10, noise=10.0, random_state=0), False,
            dict(hidden_layer_sizes=(32,), solver="adam", learning_rate_init=0.01, max_iter=150)),
    Dataset("make_friedman1", lambda: make_friedman1(1000, 10, noise=1.0, random_state=0), False,
            dict(hidden_layer_sizes=(32, 16), solver="adam", activation="tanh",
                 learning_rate_init=0.01, max_iter=200)),
]


def make_model(dataset, library, seed):
    """StandardScaler + the library's estimator (targets standardised for regression)."""
    if dataset.classifier:
        Estimator = FNNClassifier if library == "skfnn" else MLPClassifier
    else:
        Estimator = FNNRegressor if library == "skfnn" else MLPRegressor
    model = make_pipeline(StandardScaler(),
                          Estimator(**dataset.params, random_state=seed))
    if not dataset.classifier:
        model = TransformedTargetRegressor(regressor=model, transformer=StandardScaler())
    return model


def run(dataset, seeds):
    """Return {library: [score per seed]} and {library: total fit seconds}."""
    X, y = dataset.load()
    scores = {"skfnn": [], "sklearn": []}
    seconds = {"skfnn": 0.0, "sklearn": 0.0}
    for seed in range(seeds):
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.25, random_state=seed,
            stratify=y if dataset.classifier else None)
        for library in ("skfnn", "sklearn"):
            model = make_model(dataset, library, seed)
            start = time.perf_counter()
            model.fit(X_train, y_train)
            seconds[library] += time.perf_counter() - start
            scores[library].append(model.score(X_test, y_test))
    return scores, seconds, X.shape


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5,
                        help="number of seeds (train/test split and random_state), default 5")
    parser.add_argument("--datasets", nargs="+", choices=[d.name for d in DATASETS],
                        help="only these data sets")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    datasets = [d for d in DATASETS if not args.datasets or d.name in args.datasets]

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    print(f"skfnn {skfnn.__version__}, scikit-learn {sklearn.__version__}, "
          f"numpy {np.__version__}, Python {platform.python_version()}; "
          f"{args.seeds} seed(s); test split 25 %")
    header = (f"{'dataset':<20} {'n':>5} {'p':>3} {'metric':<8} {'settings':<46} "
              f"{'skfnn':>15} {'scikit-learn':>15} {'max|diff|':>9} {'fit s skfnn/sk':>15}")
    print(header)
    print("-" * len(header))
    worst = 0.0
    for dataset in datasets:
        scores, seconds, shape = run(dataset, args.seeds)
        ours, ref = np.array(scores["skfnn"]), np.array(scores["sklearn"])
        diff = float(np.max(np.abs(ours - ref)))
        worst = max(worst, diff)
        metric = "accuracy" if dataset.classifier else "R2"
        print(f"{dataset.name:<20} {shape[0]:>5} {shape[1]:>3} {metric:<8} "
              f"{dataset.settings():<46} "
              f"{ours.mean():>7.4f} ± {ours.std():.4f} {ref.mean():>7.4f} ± {ref.std():.4f} "
              f"{diff:>9.2g} {seconds['skfnn']:>7.2f}/{seconds['sklearn']:<7.2f}")
    print(f"\nlargest |skfnn - scikit-learn| score difference of any seed: {worst:.3g}")


if __name__ == "__main__":
    main()

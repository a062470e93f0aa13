"""
# Speed against scikit-learn's MLP

The same work, timed: each library trains the same architecture with the same
solver, seed and number of epochs (`tol=0` so that neither stops early), and the
best of three fits is kept. The workloads here are small so that the gallery builds
quickly; [benchmarks/speed.py](https://github.com/skfnn/skfnn/blob/main/benchmarks/speed.py)
and the [performance page](../../performance.md) measure larger ones.
The ratios depend on the machine; this page shows those of the machine that built it.
"""

import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from skfnn import FNNClassifier

X, y = load_digits(return_X_y=True)
X, y = X[:600] / 16, y[:600]

workloads = {
    "adam, (64,)": dict(hidden_layer_sizes=(64,), solver="adam", max_iter=10),
    "sgd, (64, 64)": dict(hidden_layer_sizes=(64, 64), solver="sgd", max_iter=10),
    "lbfgs, (64,)": dict(hidden_layer_sizes=(64,), solver="lbfgs", max_iter=20),
}


def best_time(cls, params, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        with warnings.catch_warnings():  # max_iter is reached on purpose
            warnings.simplefilter("ignore", ConvergenceWarning)
            cls(tol=0.0, random_state=0, **params).fit(X, y)
        times.append(time.perf_counter() - start)
    return min(times)


results = {name: (best_time(MLPClassifier, p), best_time(FNNClassifier, p))
           for name, p in workloads.items()}
for name, (mlp, fnn) in results.items():
    print(f"{name:>14}: MLPClassifier {mlp * 1e3:6.1f} ms, FNNClassifier {fnn * 1e3:6.1f} ms, "
          f"{mlp / fnn:.2f}x")

# %%
# Fit times side by side.

fig, ax = plt.subplots(figsize=(6.5, 3.5))
positions = np.arange(len(results))
ax.bar(positions - 0.2, [m * 1e3 for m, _ in results.values()], 0.4, label="MLPClassifier")
ax.bar(positions + 0.2, [f * 1e3 for _, f in results.values()], 0.4, label="FNNClassifier")
ax.set_xticks(positions, list(results))
ax.set(ylabel="fit time (ms), best of 3", title="600 digits, 64 features")
ax.legend()
fig.tight_layout()

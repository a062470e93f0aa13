"""
# A drop-in replacement for MLPClassifier

`FNNClassifier` takes every parameter of scikit-learn's `MLPClassifier`, with the
same defaults and meaning, and exposes the same fitted attributes: changing the
import is enough. In float64, the same `random_state` draws the same initial
weights, the same minibatches and the same steps, so both libraries train the
same network.
"""

# %%
# The same code, two imports
# --------------------------
# Only the class differs; the data, the parameters and the seed are shared.

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from skfnn import FNNClassifier

# The short fits below stop at max_iter on purpose; their warnings would only add noise.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_digits(return_X_y=True)
X = X / 16
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

params = dict(hidden_layer_sizes=(32,), max_iter=30, random_state=0)
mlp = MLPClassifier(**params).fit(X_train, y_train)
fnn = FNNClassifier(**params).fit(X_train, y_train)

# %%
# The parity
# ----------
# The weights agree to rounding, the predictions exactly.

weight_gap = max(np.abs(a - b).max() for a, b in zip(mlp.coefs_, fnn.coefs_, strict=True))
print(f"largest weight difference: {weight_gap:.1e}")
print(f"same predictions: {np.array_equal(mlp.predict(X_test), fnn.predict(X_test))}")
print(f"test accuracy: MLPClassifier {mlp.score(X_test, y_test):.4f}, "
      f"FNNClassifier {fnn.score(X_test, y_test):.4f}")

# %%
# The two training curves lie on top of each other.

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(range(1, mlp.n_iter_ + 1), mlp.loss_curve_, lw=4, alpha=0.4, label="MLPClassifier")
ax.plot(range(1, fnn.n_iter_ + 1), fnn.loss_curve_, "k--", lw=1, label="FNNClassifier")
ax.set(xlabel="Epoch", ylabel="Training loss", yscale="log",
       title="The same network, epoch for epoch")
ax.legend()
fig.tight_layout()

"""
# Class weights on imbalanced data

With 5 % of the samples in one class, a network trained on the plain average loss
mostly predicts the majority class. `class_weight="balanced"` weighs each class by
n / (n_classes · count), as scikit-learn's `LogisticRegression` does, and trains
the same model as the equivalent `sample_weight`.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import ConfusionMatrixDisplay, balanced_accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_sample_weight

from skfnn import FNNClassifier

# The short fits below stop at max_iter on purpose; their warnings would only add noise.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = make_classification(n_samples=2000, weights=[0.95, 0.05], random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)

plain = FNNClassifier((16,), max_iter=100, random_state=0).fit(X_train, y_train)
balanced = FNNClassifier((16,), max_iter=100, class_weight="balanced",
                         random_state=0).fit(X_train, y_train)
for name, model in [("plain", plain), ("balanced", balanced)]:
    score = balanced_accuracy_score(y_test, model.predict(X_test))
    print(f"{name:>9}: balanced accuracy {score:.3f}")

# %%
# `class_weight="balanced"` and the explicit sample weights train the same network.

explicit = FNNClassifier((16,), max_iter=100, random_state=0).fit(
    X_train, y_train, sample_weight=compute_sample_weight("balanced", y_train))
same = all(np.array_equal(a, b) for a, b in zip(balanced.coefs_, explicit.coefs_, strict=True))
print(f"identical weights: {same}")

# %%
# The confusion matrices on the test set: the balanced network finds most of the
# minority class, at the price of a few false alarms.

fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.4))
for ax, (name, model) in zip(axes, [("plain", plain), ("balanced", balanced)], strict=True):
    ConfusionMatrixDisplay.from_estimator(model, X_test, y_test, ax=ax, colorbar=False)
    ax.set_title(f'class_weight={None if name == "plain" else repr(name)}')
fig.tight_layout()

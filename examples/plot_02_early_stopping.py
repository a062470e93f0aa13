"""
# Training curves and early stopping

With `early_stopping=True`, a fraction of the training data is held out; training
stops when the score on it has not improved for `n_iter_no_change` epochs, and the
weights of the best epoch are restored. `TrainingCurveDisplay` draws what the fit
recorded: the training loss, the validation loss and the validation score, with the
restored epoch marked.
"""

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits

from skfnn import FNNClassifier, TrainingCurveDisplay

X, y = load_digits(return_X_y=True)
X = X / 16

clf = FNNClassifier((64,), early_stopping=True, validation_fraction=0.2,
                    n_iter_no_change=5, max_iter=200, random_state=0).fit(X, y)
print(f"stopped after {clf.n_iter_} epochs; "
      f"best validation accuracy {clf.best_validation_score_:.3f}")

# %%
# The validation accuracy levels off while the training loss keeps falling; the
# dotted line marks the epoch whose weights the model keeps.

fig, ax = plt.subplots(figsize=(6.5, 3.8))
display = TrainingCurveDisplay.from_estimator(clf, ax=ax)
print(f"restored epoch: {display.best_epoch}")
fig.tight_layout()

# %%
# Stopping on the validation loss instead of the accuracy (`scoring="loss"`)
# waits until the loss itself stops improving.

by_loss = FNNClassifier((64,), early_stopping=True, validation_fraction=0.2, scoring="loss",
                        n_iter_no_change=5, max_iter=200, random_state=0).fit(X, y)
fig, ax = plt.subplots(figsize=(6.5, 3.8))
TrainingCurveDisplay.from_estimator(by_loss, ax=ax)
ax.set_title('scoring="loss"')
fig.tight_layout()
print(f'scoring="loss" stopped after {by_loss.n_iter_} epochs')

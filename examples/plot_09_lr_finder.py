"""
# Finding a learning rate, then checkpointing the training

`skfnn.lr_finder` runs Leslie Smith's learning-rate range test on a clone of the
network: one minibatch step per rate, the rates growing exponentially, until the
loss diverges. Its suggestion (the steepest descent of the smoothed loss) is a good
`learning_rate_init`. `skfnn.callbacks.Checkpoint` then saves the model while it
trains, and a saved file resumes training where it stopped.
"""

import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skfnn import FNNClassifier, LearningRateFinderDisplay, io
from skfnn.callbacks import Checkpoint

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # short fits, on purpose

X, y = load_digits(return_X_y=True)
X = X / 16
X_train, X_val, y_train, y_val = train_test_split(X, y, random_state=0)

# %%
# The range test, drawn: the faint line is each minibatch's loss, the solid one its
# moving average. The estimator passed in is not modified.

clf = FNNClassifier((64,), solver="adam", batch_size=32, random_state=0)
display = LearningRateFinderDisplay.from_estimator(clf, X_train, y_train)
print(f"suggested learning_rate_init: {display.suggestion:.3g}")
plt.show()

# %%
# Train with the suggestion, saving a checkpoint every 5 epochs and whenever the
# validation score improves, keeping the newest three files.

directory = Path(tempfile.mkdtemp())
checkpoint = Checkpoint(directory, every=5, monitor="validation_score", keep=3)
clf.set_params(learning_rate_init=display.suggestion, max_iter=15)
clf.set_callbacks(checkpoint).fit(X_train, y_train, X_val=X_val, y_val=y_val)
print([path.name for path in checkpoint.paths_])
print("validation scores:", np.round(clf.validation_scores_, 3))

# %%
# A checkpoint holds the optimizer's state too: `partial_fit` on the loaded model
# continues training where that epoch left it.

resumed = io.load(checkpoint.paths_[-1])
for _ in range(3):
    resumed.partial_fit(X_train, y_train)
print(f"epochs trained: {len(resumed.loss_curve_)}, "
      f"validation accuracy: {resumed.score(X_val, y_val):.3f}")

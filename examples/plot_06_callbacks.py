"""
# Callbacks: a progress bar, per-epoch scores, your own stopping rule

skfnn's estimators implement scikit-learn's callback API (`sklearn.callback`,
scikit-learn 1.9 and later): `set_callbacks` attaches a progress bar, a monitor that
scores every epoch, or any object with the four hook methods.
"""

import warnings

import matplotlib.pyplot as plt
from sklearn.callback import ProgressBar, ScoringMonitor
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skfnn import FNNClassifier

# The short fits below stop at max_iter on purpose; their warnings would only add noise.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_digits(return_X_y=True)
X = X / 16
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

# %%
# A progress bar (it needs `rich`: `pip install "skfnn[progress]"`).

clf = FNNClassifier((32,), max_iter=20, random_state=0)
clf = clf.set_callbacks(ProgressBar()).fit(X_train, y_train)

# %%
# `ScoringMonitor` scores the network after every epoch and keeps a log.

monitor = ScoringMonitor(scoring=["accuracy", "neg_log_loss"])
clf = FNNClassifier((32,), max_iter=30, random_state=0).set_callbacks(monitor)
clf.fit(X_train, y_train)
log = monitor.get_logs().data_as_pandas
epochs = log[log["task_name"] == "epoch"]
print(epochs[["task_id", "accuracy", "neg_log_loss"]].tail(3).to_string(index=False))

# %%
# A callback of your own: stop as soon as the held-out accuracy reaches a target.
# A truthy return from `on_fit_task_end` stops training after that epoch.


class StopAtAccuracy:
    def __init__(self, X_val, y_val, target):
        self.X_val, self.y_val, self.target = X_val, y_val, target
        self.history = []

    def setup(self, estimator, context):
        self.history = []

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.parent is None or fitted_estimator is None:
            return False  # the end of the fit itself, not of an epoch
        self.history.append(fitted_estimator.score(self.X_val, self.y_val))
        return self.history[-1] >= self.target


stop = StopAtAccuracy(X_test, y_test, target=0.95)
stopped = FNNClassifier((32,), max_iter=200, random_state=0).set_callbacks(stop)
stopped.fit(X_train, y_train)
print(f"stopped after {stopped.n_iter_} epochs at held-out accuracy {stop.history[-1]:.3f}")

# %%
# The monitor's log and the stopping callback's history, epoch by epoch.

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(epochs["task_id"] + 1, epochs["accuracy"], label="training accuracy (ScoringMonitor)")
ax.plot(range(1, len(stop.history) + 1), stop.history, "o-", ms=3,
        label="held-out accuracy (StopAtAccuracy)")
ax.axhline(0.95, color="grey", ls=":", label="target")
ax.set(xlabel="Epoch", ylabel="Accuracy", title="What the callbacks saw")
ax.legend(loc="lower right")
fig.tight_layout()

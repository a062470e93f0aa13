"""
# Dropout against overfitting

On 200 noisy samples with 40 features, a 256-unit network memorises the training
set and becomes overconfident on new data. `dropout=p` drops each hidden unit with
probability p during training (inverted dropout: prediction uses the whole
network); the test loss falls as p grows, up to a point.
"""

import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss

from skfnn import FNNClassifier

# The short fits below stop at max_iter on purpose; their warnings would only add noise.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = make_classification(n_samples=600, n_features=40, n_informative=5, flip_y=0.05,
                           random_state=0)
X_train, y_train, X_test, y_test = X[:200], y[:200], X[200:], y[200:]

rates = [0.0, 0.2, 0.4, 0.5, 0.6, 0.8]
train_loss, test_loss = [], []
for rate in rates:
    net = FNNClassifier((256,), dropout=rate, alpha=0.0, max_iter=100,
                        random_state=0).fit(X_train, y_train)
    train_loss.append(log_loss(y_train, net.predict_proba(X_train)))
    test_loss.append(log_loss(y_test, net.predict_proba(X_test)))
    print(f"dropout={rate:.1f}: training log-loss {train_loss[-1]:.3f}, "
          f"test log-loss {test_loss[-1]:.3f}")

# %%
# Without dropout the training loss is near zero and the test loss is the
# highest: the gap between the two curves is the overfitting.

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(rates, train_loss, "o-", label="training")
ax.plot(rates, test_loss, "s-", label="test")
ax.set(xlabel="dropout rate", ylabel="log-loss", title="Dropout narrows the gap")
ax.legend()
fig.tight_layout()

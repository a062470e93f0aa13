"""
# Deep ensembles: knowing where the data are missing

A deep ensemble (Lakshminarayanan et al., 2017) trains the same network several
times from different random seeds and averages the predictions. The average is
usually better than one network, and the members' disagreement says where the
data leave the function undecided. `skfnn.ensemble.FNNEnsembleRegressor` and
`FNNEnsembleClassifier` train the K members as one stack of networks (each member
is, bit for bit, the network its own `fit` would give); see the
[Ensembles](../../ensembles.md) page.

First a regression with a gap in the data: x in [−3, −1] ∪ [1, 3] and
y = sin 2x + 0.15 ε.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_moons
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss

from skfnn import FNNClassifier, FNNRegressor
from skfnn.ensemble import FNNEnsembleClassifier, FNNEnsembleRegressor

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # short fits, on purpose

rng = np.random.RandomState(0)
x = np.concatenate([rng.uniform(-3, -1, 50), rng.uniform(1, 3, 50)])
X, y = x[:, None], np.sin(2 * x) + 0.15 * rng.standard_normal(100)

# %%
# Five networks of two hidden layers, each trained from its own seed (drawn from the
# ensemble's `random_state`). `predict(X, return_std=True)` returns the members'
# mean and their spread, the standard deviation of the five predictions.

network = FNNRegressor((32, 32), activation="silu", learning_rate_init=0.01, batch_size=16,
                       max_iter=1000, n_iter_no_change=50)
ensemble = FNNEnsembleRegressor(network, n_estimators=5, random_state=0).fit(X, y)
print("members' seeds:", ensemble.member_seeds_)

grid = np.linspace(-4.5, 4.5, 400)[:, None]
mean, std = ensemble.predict(grid, return_std=True)
in_gap, on_data = np.abs(grid[:, 0]) < 1, (np.abs(grid[:, 0]) >= 1) & (np.abs(grid[:, 0]) <= 3)
print(f"mean std in the gap: {std[in_gap].mean():.3f}, on the data: {std[on_data].mean():.3f}")

# %%
# The members agree where there are data and part ways in the gap and beyond the
# data: the band mean ± 2 std widens there. It is the *epistemic* uncertainty, what
# the data leave undecided, not the noise of y (members with `loss="gaussian_nll"`
# add that; see the Ensembles page).

fig, ax = plt.subplots(figsize=(7, 3.8))
ax.axvspan(-1, 1, color="0.93", label="no data")
ax.fill_between(grid[:, 0], mean - 2 * std, mean + 2 * std, alpha=0.3,
                label="mean ± 2 std of the members")
for k, member in enumerate(ensemble.estimators_):
    ax.plot(grid[:, 0], member.predict(grid), color="C1", lw=0.7,
            label="members" if k == 0 else None)
ax.plot(grid[:, 0], mean, color="C0", lw=1.8, label="ensemble mean")
ax.scatter(X[:, 0], y, s=6, color="0.4", zorder=3, label="data")
ax.set_ylim(-3.5, 3.2)
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.legend(loc="lower left", fontsize=8)
fig.tight_layout()

# %%
# Now a classifier on two interleaved half-moons. One network (the ensemble's first
# member: an ordinary `FNNClassifier`, fitted as on its own) against the ensemble's
# averaged probabilities.

X_m, y_m = make_moons(200, noise=0.25, random_state=0)
X_new, y_new = make_moons(2000, noise=0.25, random_state=1)  # held out
classifier = FNNClassifier((32, 32), activation="relu", learning_rate_init=0.01,
                           batch_size=16, max_iter=300, n_iter_no_change=30)
moons = FNNEnsembleClassifier(classifier, n_estimators=5, random_state=0).fit(X_m, y_m)
one = moons.estimators_[0]

for k, member in enumerate(moons.estimators_):
    print(f"member {k}: held-out log-loss {log_loss(y_new, member.predict_proba(X_new)):.3f}")
print(f"ensemble: held-out log-loss {log_loss(y_new, moons.predict_proba(X_new)):.3f}, "
      f"accuracy {moons.score(X_new, y_new):.3f} (one network: {one.score(X_new, y_new):.3f})")

# %%
# The ensemble's log-loss is never above its members' average (−log is convex), and
# here it is below every member's. On the map, one network is sure (p near 0 or 1)
# almost everywhere away from its boundary; the ensemble is unsure wherever its
# members draw the boundary differently, which the right panel shows: the standard
# deviation of the members' probabilities.

xx, yy = np.meshgrid(np.linspace(-2.5, 3.5, 181), np.linspace(-2, 2.5, 136))
points = np.c_[xx.ravel(), yy.ravel()]
P = np.stack([m.predict_proba(points)[:, 1] for m in moons.estimators_])
maps = [("one network: p(class 1)", one.predict_proba(points)[:, 1], "RdBu_r", (0, 1)),
        ("ensemble: mean p(class 1)", moons.predict_proba(points)[:, 1], "RdBu_r", (0, 1)),
        ("std of the members' p", P.std(axis=0), "viridis", (0, 0.5))]
fig, axes = plt.subplots(1, 3, figsize=(11, 3.4), sharey=True)
for ax, (title, values, cmap, (low, high)) in zip(axes, maps, strict=True):
    image = ax.contourf(xx, yy, values.reshape(xx.shape), levels=np.linspace(low, high, 11),
                        cmap=cmap)
    ax.scatter(X_m[:, 0], X_m[:, 1], c=y_m, cmap="RdBu_r", edgecolors="k", s=12, lw=0.4)
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax)
for name, p in (("one network", maps[0][1]), ("ensemble", maps[1][1])):
    print(f"{name}: share of the map where max(p, 1 - p) > 0.99: "
          f"{np.mean(np.maximum(p, 1 - p) > 0.99):.2f}")
fig.tight_layout()

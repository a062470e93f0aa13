"""
# Conformal prediction intervals with MAPIE

A network's intervals are only as calibrated as its fit; conformal prediction makes
them valid in finite samples whatever the model. [MAPIE](https://mapie.readthedocs.io)
(`pip install mapie`, part of skfnn's `docs` extra) does it for any scikit-learn
regressor, and therefore for `FNNRegressor`:

- **split conformal** around a point prediction: the interval is the prediction ± the
  (1 − α) quantile of the calibration residuals (one width for every x);
- **conformalized quantile regression** (Romano et al. 2019): three quantile networks
  (`loss="quantile"`) give an interval whose width follows the noise, shifted by the
  quantile of the calibration scores max(lower − y, y − upper).

The data: y = sin x + σ(x) ε with σ(x) = 0.1 + 0.3 |x|, so the noise grows with |x|.
"""

import matplotlib.pyplot as plt
import numpy as np
from mapie.regression import ConformalizedQuantileRegressor, SplitConformalRegressor

from skfnn import FNNRegressor

rng = np.random.default_rng(0)
x = rng.uniform(-3, 3, 4000)
y = np.sin(x) + (0.1 + 0.3 * np.abs(x)) * rng.standard_normal(4000)
X = x[:, None]
X_fit, y_fit = X[:2000], y[:2000]      # to train the networks
X_cal, y_cal = X[2000:3000], y[2000:3000]  # to calibrate the intervals
X_test, y_test = X[3000:], y[3000:]    # to measure them

net = dict(hidden_layer_sizes=(32, 32), solver="lbfgs", max_iter=500, random_state=0)

# %%
# Split conformal around the mean (squared error). MAPIE takes the fitted network
# (`prefit=True`) and calibrates on data the network has not seen.

mean = FNNRegressor(**net).fit(X_fit, y_fit)
split = SplitConformalRegressor(mean, confidence_level=0.9, prefit=True)
split.conformalize(X_cal, y_cal)
_, split_band = split.predict_interval(X_test)

# %%
# Conformalized quantile regression: the 5 %, 95 % and 50 % quantile networks, in the
# order MAPIE expects for fitted estimators (lower, upper, median).

quantiles = [FNNRegressor(loss="quantile", quantile=q, **net).fit(X_fit, y_fit)
             for q in (0.05, 0.95, 0.5)]
cqr = ConformalizedQuantileRegressor(quantiles, confidence_level=0.9, prefit=True)
cqr.conformalize(X_cal, y_cal)
_, cqr_band = cqr.predict_interval(X_test)

for name, band in (("split conformal", split_band), ("conformalized quantiles", cqr_band)):
    low, high = band[:, 0, 0], band[:, 1, 0]
    inside = (low <= y_test) & (y_test <= high)
    narrow = np.abs(X_test[:, 0]) < 1
    print(f"{name:>24}: coverage {inside.mean():.3f} (|x| < 1: {inside[narrow].mean():.3f}, "
          f"|x| > 1: {inside[~narrow].mean():.3f}), mean width {np.mean(high - low):.2f}")

# %%
# Both cover about 90 % of the held-out points. The split band has one width, too
# wide where the noise is small and too narrow where it is large; the quantile band
# follows the noise.

order = np.argsort(X_test[:, 0])
fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
for ax, (name, band) in zip(axes, (("Split conformal (mean)", split_band),
                                   ("Conformalized quantiles", cqr_band)), strict=True):
    ax.scatter(X_test[:, 0], y_test, s=3, color="0.6", label="held-out data")
    ax.fill_between(X_test[order, 0], band[order, 0, 0], band[order, 1, 0], alpha=0.35,
                    label="90 % interval")
    ax.set_title(name)
    ax.set_xlabel("x")
axes[0].set_ylabel("y")
axes[0].legend(loc="upper left")
fig.tight_layout()

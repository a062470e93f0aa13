"""Prediction intervals: skfnn's heads against HistGradientBoosting and a Gaussian process.

One data set whose conditional distribution is known, y = sin x + σ(x) ε with
σ(x) = 0.1 + 0.3 |x|, x ~ U(−3, 3) (heteroscedastic: the noise grows tenfold
from the centre to the edges); ``--n-train`` points to fit, ``--n-test`` held-out
points to measure. Each method gives a central 95 % interval:

- ``FNNRegressor(loss="gaussian_nll")``: μ(x) ± 1.96 σ̂(x);
- ``FNNRegressor(loss="quantile", quantile=[0.025, 0.5, 0.975])``: the outer quantiles;
- ``HistGradientBoostingRegressor(loss="quantile")``: one model per quantile;
- ``GaussianProcessRegressor`` (RBF + white noise): μ(x) ± 1.96 σ(x), with a
  noise level that is one constant (its kernel is homoscedastic).

Printed: the coverage on the held-out points (nominal 95 %), the coverage where
the noise is small (|x| < 1) and where it is large (|x| > 2), the mean width of
the intervals next to the true intervals' (2 · 1.96 σ(x)), and the fit time.
For the quantile network, the share of held-out rows whose quantiles cross.

Run from the repository root::

    python benchmarks/uncertainty.py
    python benchmarks/uncertainty.py --n-train 1000 --seed 1
"""

import argparse
import time
import warnings

import numpy as np
from scipy import stats
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

from skfnn import FNNRegressor

Z = stats.norm.ppf(0.975)
NETWORK = dict(hidden_layer_sizes=(16, 16), activation="tanh", solver="lbfgs", max_iter=200)


def sigma(x):
    """The true noise level σ(x)."""
    return 0.1 + 0.3 * np.abs(x)


def heteroscedastic(n, seed):
    """X of shape (n, 1) and y = sin x + σ(x) ε."""
    rng = np.random.RandomState(seed)
    X = rng.uniform(-3, 3, (n, 1))
    return X, np.sin(X[:, 0]) + sigma(X[:, 0]) * rng.standard_normal(n)


def gaussian_head(X, y, seed):
    est = FNNRegressor(loss="gaussian_nll", random_state=seed, **NETWORK).fit(X, y)

    def interval(X_new):
        mean, std = est.predict(X_new, return_std=True)
        return mean - Z * std, mean + Z * std
    return interval


def quantile_head(X, y, seed):
    est = FNNRegressor(loss="quantile", quantile=[0.025, 0.5, 0.975], random_state=seed,
                       **NETWORK).fit(X, y)
    return lambda X_new: tuple(est.predict(X_new)[:, [0, 2]].T), est


def boosting(X, y, seed):
    low, high = (HistGradientBoostingRegressor(loss="quantile", quantile=q, random_state=seed)
                 .fit(X, y) for q in (0.025, 0.975))
    return lambda X_new: (low.predict(X_new), high.predict(X_new))


def gaussian_process(X, y, seed):
    kernel = ConstantKernel() * RBF() + WhiteKernel()
    gp = GaussianProcessRegressor(kernel, normalize_y=True, random_state=seed).fit(X, y)

    def interval(X_new):
        mean, std = gp.predict(X_new, return_std=True)
        return mean - Z * std, mean + Z * std
    return interval


def crossing_share(est, X):
    """The share of rows of X whose predicted quantiles are not in increasing order."""
    return float(np.mean((np.diff(est.predict(X), axis=1) < 0).any(axis=1)))


def measure(name, fit, train, test, seed):
    (X, y), (X_test, y_test) = train, test
    start = time.perf_counter()
    fitted = fit(X, y, seed)
    seconds = time.perf_counter() - start
    interval, est = fitted if isinstance(fitted, tuple) else (fitted, None)
    low, high = interval(X_test)
    inside = (low <= y_test) & (y_test <= high)
    x = np.abs(X_test[:, 0])
    row = dict(method=name, coverage=inside.mean(), calm=inside[x < 1].mean(),
               noisy=inside[x > 2].mean(), width=np.mean(high - low), seconds=seconds)
    return row, est


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--n-test", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    train = heteroscedastic(args.n_train, args.seed)
    test = heteroscedastic(args.n_test, args.seed + 1)
    methods = [("FNN gaussian_nll", gaussian_head), ("FNN quantile", quantile_head),
               ("HGB quantile", boosting), ("GaussianProcess", gaussian_process)]
    rows, crossing = [], None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name, fit in methods:
            row, est = measure(name, fit, train, test, args.seed)
            rows.append(row)
            if est is not None:
                crossing = crossing_share(est, test[0])
    true_width = np.mean(2 * Z * sigma(test[0][:, 0]))
    print(f"central 95 % intervals on {args.n_test} held-out points ({args.n_train} to fit, "
          f"seed {args.seed}); true mean width {true_width:.3f}\n")
    header = (f"{'method':<18} {'coverage':>8} {'|x|<1':>7} {'|x|>2':>7} {'width':>7} "
              f"{'fit s':>6}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['method']:<18} {r['coverage']:>8.3f} {r['calm']:>7.3f} {r['noisy']:>7.3f} "
              f"{r['width']:>7.3f} {r['seconds']:>6.1f}")
    print(f"\nFNN quantile: held-out rows with crossing quantiles: {crossing:.2%}")
    return rows, crossing


if __name__ == "__main__":
    main()

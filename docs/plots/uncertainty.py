"""Render docs/plots/uncertainty.png, the figure of docs/uncertainty.md.

Left: ``FNNRegressor(loss="gaussian_nll")`` on y = sin x + σ(x) ε, σ(x) = 0.1 + 0.3 |x|,
its mean and 95 % band μ ± 1.96 σ̂ against the data and the true band. Right:
``loss="quantile"`` with quantiles 0.05, 0.5 and 0.95 on the same data. Run from
anywhere: ``python docs/plots/uncertainty.py`` (needs ``pip install "skfnn[plot]"``).
The test-suite runs ``main`` into a temporary folder, so the committed figure can
always be rebuilt.
"""

from pathlib import Path

OUTPUT = Path(__file__).with_suffix(".png")
SIZE_INCHES, DPI = (9.6, 3.8), 100


def main(path=OUTPUT):
    """Fit both heads, draw them and write the figure to ``path`` (a PNG)."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import warnings

    import matplotlib.pyplot as plt
    import numpy as np
    from sklearn.exceptions import ConvergenceWarning

    from skfnn import FNNRegressor

    rng = np.random.RandomState(0)
    X = rng.uniform(-3, 3, (2000, 1))
    sigma = 0.1 + 0.3 * np.abs(X[:, 0])
    y = np.sin(X[:, 0]) + sigma * rng.standard_normal(2000)
    grid = np.linspace(-3, 3, 300)[:, None]
    true_sigma = 0.1 + 0.3 * np.abs(grid[:, 0])
    net = dict(hidden_layer_sizes=(16, 16), activation="tanh", solver="lbfgs", max_iter=200,
               random_state=0)
    with warnings.catch_warnings():  # 200 iterations: enough for the figure
        warnings.simplefilter("ignore", ConvergenceWarning)
        gaussian = FNNRegressor(loss="gaussian_nll", **net).fit(X, y)
        quantiles = FNNRegressor(loss="quantile", quantile=[0.05, 0.5, 0.95], **net).fit(X, y)

    fig, (left, right) = plt.subplots(1, 2, figsize=SIZE_INCHES, sharey=True,
                                      layout="constrained")
    mean, std = gaussian.predict(grid, return_std=True)
    for ax in (left, right):
        ax.scatter(X[:, 0], y, s=3, color="0.7", label="data")
        ax.set_xlabel("x")
    left.fill_between(grid[:, 0], mean - 1.96 * std, mean + 1.96 * std, alpha=0.3,
                      label="95 % band, μ ± 1.96 σ̂")
    left.plot(grid[:, 0], mean, label="predicted mean μ")
    for sign in (-1, 1):
        left.plot(grid[:, 0], np.sin(grid[:, 0]) + sign * 1.96 * true_sigma, "k--", lw=0.8,
                  label="true 95 % band" if sign > 0 else None)
    left.set_title('loss="gaussian_nll"')
    left.set_ylabel("y")
    P = quantiles.predict(grid)
    right.fill_between(grid[:, 0], P[:, 0], P[:, 2], alpha=0.3, label="quantiles 0.05–0.95")
    right.plot(grid[:, 0], P[:, 1], label="median")
    for sign in (-1, 1):
        right.plot(grid[:, 0], np.sin(grid[:, 0]) + sign * 1.645 * true_sigma, "k--", lw=0.8,
                   label="true 0.05 / 0.95 quantiles" if sign > 0 else None)
    right.set_title('loss="quantile", quantile=[0.05, 0.5, 0.95]')
    for ax in (left, right):
        ax.legend(loc="lower left", fontsize=8)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


if __name__ == "__main__":
    print(main())

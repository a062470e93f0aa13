"""Render docs/plots/ensembles.png, the figure of docs/ensembles.md.

A 1-D regression with a gap in the data: x uniform on [−3, −1] ∪ [1, 3], y = sin 2x
+ 0.15 ε. Left: ``FNNEnsembleRegressor`` of 5 networks (squared error), its members'
curves, their mean and the band mean ± 2 std of the members' spread (epistemic
uncertainty), which widens in the gap and beyond the data. Right: the same ensemble
with Gaussian members (``loss="gaussian_nll"``): the total band ± 2
sqrt(mean σ_k² + var μ_k) and, inside it, its epistemic part ± 2 sqrt(var μ_k).
Run from anywhere: ``python docs/plots/ensembles.py`` (needs
``pip install "skfnn[plot]"``); it also prints the measurements the page quotes
(:func:`numbers`). The test-suite runs ``main`` into a temporary folder,
so the committed figure can always be rebuilt.
"""

from pathlib import Path

OUTPUT = Path(__file__).with_suffix(".png")
SIZE_INCHES, DPI = (9.6, 3.8), 100
#: The members' network: small batches and a patient stop, so that each fits the data.
NETWORK = dict(hidden_layer_sizes=(32, 32), activation="silu", learning_rate_init=0.01,
               batch_size=16, max_iter=1000, n_iter_no_change=50)


def gap_data(n=100, seed=0):
    """(X, y): n points, x uniform on [−3, −1] ∪ [1, 3], y = sin 2x + 0.15 ε."""
    import numpy as np

    rng = np.random.RandomState(seed)
    x = np.concatenate([rng.uniform(-3, -1, n // 2), rng.uniform(1, 3, n - n // 2)])
    return x[:, None], np.sin(2 * x) + 0.15 * rng.standard_normal(n)


def fit_ensembles(X, y):
    """The two ensembles of the figure: squared-error members and Gaussian members."""
    from skfnn import FNNRegressor
    from skfnn.ensemble import FNNEnsembleRegressor

    point = FNNEnsembleRegressor(FNNRegressor(**NETWORK), n_estimators=5, random_state=0)
    gaussian = FNNEnsembleRegressor(FNNRegressor(loss="gaussian_nll", **NETWORK),
                                    n_estimators=5, random_state=0)
    return point.fit(X, y), gaussian.fit(X, y)


def numbers(point, gaussian):
    """The figures docs/ensembles.md quotes, measured on the figure's ensembles.

    Mean standard deviations in the gap (|x| < 1) and on the data (1 ≤ |x| ≤ 3), and
    the share of 2,000 fresh points, drawn as the training data, that the bands
    mean ± 2 std cover.
    """
    import numpy as np

    grid = np.linspace(-3, 3, 301)[:, None]
    gap = np.abs(grid[:, 0]) < 1
    _, spread = point.predict(grid, return_std=True)
    _, total = gaussian.predict(grid, return_std=True)
    sigmas = [member.predict(grid, return_std=True)[1] for member in gaussian.estimators_]
    X_new, y_new = gap_data(2000, seed=1)
    covered = {}
    for name, ensemble in (("spread", point), ("total", gaussian)):
        mean, std = ensemble.predict(X_new, return_std=True)
        covered[name] = float(np.mean(np.abs(y_new - mean) <= 2 * std))
    def mean(values, where):
        return round(float(values[where].mean()), 3)

    return {"spread gap / data": (mean(spread, gap), mean(spread, ~gap)),
            "total gap / data": (mean(total, gap), mean(total, ~gap)),
            "members' sigma gap": [mean(s, gap) for s in sigmas],
            "members' sigma data": [mean(s, ~gap) for s in sigmas],
            "coverage of mean ± 2 std": covered}


def main(path=OUTPUT):
    """Fit both ensembles, draw them and write the figure to ``path`` (a PNG)."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt
    import numpy as np

    X, y = gap_data()
    point, gaussian = fit_ensembles(X, y)
    grid = np.linspace(-4.5, 4.5, 400)[:, None]
    x = grid[:, 0]

    fig, (left, right) = plt.subplots(1, 2, figsize=SIZE_INCHES, sharey=True,
                                      layout="constrained")
    for ax in (left, right):
        ax.axvspan(-1, 1, color="0.95", zorder=0)  # the gap: no data
        ax.scatter(X[:, 0], y, s=5, color="0.55", zorder=3, label="data")
        ax.plot(x, np.sin(2 * x), "k:", lw=0.8, label="sin 2x")
        ax.set_xlabel("x")
    mean, std = point.predict(grid, return_std=True)
    left.fill_between(x, mean - 2 * std, mean + 2 * std, alpha=0.3,
                      label="mean ± 2 std (members' spread)")
    for k, member in enumerate(point.estimators_):
        left.plot(x, member.predict(grid), lw=0.7, color="C1",
                  label="the 5 members" if k == 0 else None)
    left.plot(x, mean, color="C0", lw=1.6, label="ensemble mean")
    left.set_title('5 members, loss="squared_error"')
    left.set_ylabel("y")

    mean, total = gaussian.predict(grid, return_std=True)
    epistemic = np.std([m.predict(grid) for m in gaussian.estimators_], axis=0)
    right.fill_between(x, mean - 2 * total, mean + 2 * total, alpha=0.2, color="C2",
                       label="± 2 total std (aleatoric + epistemic)")
    right.fill_between(x, mean - 2 * epistemic, mean + 2 * epistemic, alpha=0.4,
                       color="C0", label="± 2 std of the members' means")
    right.plot(x, mean, color="C0", lw=1.6, label="ensemble mean")
    right.set_title('5 members, loss="gaussian_nll"')
    for ax in (left, right):
        ax.set_ylim(-3.8, 3.2)
        ax.legend(loc="lower left", fontsize=7)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


if __name__ == "__main__":
    print(main())
    for key, value in numbers(*fit_ensembles(*gap_data())).items():
        print(f"{key}: {value}")

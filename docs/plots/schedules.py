"""Render docs/plots/schedules.png, the learning-rate curves of the user guide.

The rate of each epoch as skfnn's optimizer sets it (the code that trains, not a
re-statement of the formulas), for η₀ = 0.1 and 50 epochs of 100 samples: one
panel per schedule. "adaptive" is drawn with plateaus at epochs 15, 30 and 40.
Run from anywhere: ``python docs/plots/schedules.py`` (needs ``pip install
"skfnn[plot]"``). The test-suite runs ``main`` into a temporary folder, so the
committed figure can always be rebuilt.
"""

from pathlib import Path

OUTPUT = Path(__file__).with_suffix(".png")
SIZE_INCHES, DPI = (8.0, 4.4), 100
ETA0, EPOCHS, SAMPLES = 0.1, 50, 100
PLATEAUS = (15, 30, 40)


def curves():
    """{title: the rate of each epoch}, from skfnn's SGD optimizer."""
    import numpy as np

    from skfnn.optimizers import SGD
    from skfnn.schedules import Adaptive, Constant, CosineAnnealing, InvScaling

    cases = {
        '"constant"': dict(schedule=Constant()),
        '"invscaling" (power_t=0.5)': dict(schedule=InvScaling(0.5)),
        '"adaptive" (plateaus at 15, 30, 40)': dict(schedule=Adaptive()),
        '"cosine"': dict(schedule=CosineAnnealing(EPOCHS)),
        '"constant", warmup_epochs=5': dict(schedule=Constant(), warmup_epochs=5),
        '"cosine", warmup_epochs=5': dict(schedule=CosineAnnealing(EPOCHS), warmup_epochs=5),
    }
    out = {}
    for title, kwargs in cases.items():
        optimizer = SGD(1, np.float64, ETA0, **kwargs)
        rates = [optimizer.learning_rate]
        for epoch in range(1, EPOCHS):
            optimizer.iteration_ends(epoch * SAMPLES)
            if epoch in PLATEAUS and isinstance(optimizer.schedule, Adaptive):
                optimizer.on_plateau()
            rates.append(optimizer.learning_rate)
        out[title] = rates
    return out


def main(path=OUTPUT):
    """Draw the curves and write them to ``path`` (a PNG)."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=SIZE_INCHES, sharex=True, sharey=True,
                             layout="constrained")
    for ax, (title, rates) in zip(axes.flat, curves().items(), strict=True):
        ax.plot(range(len(rates)), rates, marker=".", markersize=3)
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("epoch e")
    for ax in axes[:, 0]:
        ax.set_ylabel("learning rate η")
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


if __name__ == "__main__":
    print(main())

"""Render docs/plots/training_curve.png, the figure of the user guide's "Watching training".

One early-stopped FNNClassifier on an imbalanced data set (95 % / 5 %), drawn by
TrainingCurveDisplay. Run from anywhere: ``python docs/plots/training_curve.py``
(needs ``pip install "skfnn[plot]"``). The test-suite imports this file and runs
``main`` into a temporary folder, so the committed figure can always be rebuilt.
"""

from pathlib import Path

OUTPUT = Path(__file__).with_suffix(".png")
SIZE_INCHES, DPI = (6.4, 4.0), 100  # 640 x 400 pixels: small, still readable


def main(path=OUTPUT):
    """Fit the classifier, draw its curves and write them to ``path`` (a PNG)."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt
    from sklearn.datasets import make_classification

    from skfnn import FNNClassifier, TrainingCurveDisplay

    X, y = make_classification(n_samples=2000, weights=[0.95, 0.05], random_state=0)
    clf = FNNClassifier((16,), early_stopping=True, max_iter=200, random_state=0).fit(X, y)
    fig, ax = plt.subplots(figsize=SIZE_INCHES, layout="constrained")
    display = TrainingCurveDisplay.from_estimator(clf, ax=ax)
    # "best" cannot see the score curve on the second axis; this spot leaves it visible.
    display.ax_.get_legend().set_loc("center right")
    ax.set_title("FNNClassifier, early stopping on accuracy, 95 % / 5 % classes")
    # No software/date metadata, so that re-rendering an unchanged figure changes no byte.
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return display


if __name__ == "__main__":
    main()

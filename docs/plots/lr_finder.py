"""Render docs/plots/lr_finder.png, the figure of the user guide's learning-rate range test.

skfnn.lr_finder on the digits (scaled to [0, 1]) for an adam FNNClassifier, drawn
by LearningRateFinderDisplay: the minibatch losses, their smoothed curve and the
suggested rate. Run from anywhere: ``python docs/plots/lr_finder.py`` (needs
``pip install "skfnn[plot]"``). The test-suite imports this file and runs ``main``
into a temporary folder, so the committed figure can always be rebuilt.
"""

from pathlib import Path

OUTPUT = Path(__file__).with_suffix(".png")
SIZE_INCHES, DPI = (6.4, 4.0), 100  # 640 x 400 pixels


def main(path=OUTPUT):
    """Run the range test, draw it and write it to ``path`` (a PNG); return the display."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt
    from sklearn.datasets import load_digits

    from skfnn import FNNClassifier, LearningRateFinderDisplay

    X, y = load_digits(return_X_y=True)
    clf = FNNClassifier((64,), solver="adam", batch_size=32, random_state=0)
    fig, ax = plt.subplots(figsize=SIZE_INCHES, layout="constrained")
    display = LearningRateFinderDisplay.from_estimator(clf, X / 16, y, ax=ax)  # the defaults
    ax.set_title("Learning-rate range test: adam on the digits")
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return display


if __name__ == "__main__":
    print(main().suggestion)

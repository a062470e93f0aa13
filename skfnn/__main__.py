"""The main job of skfnn: ``python -m skfnn``.

Without arguments it

1. trains skfnn's :class:`~skfnn.FNNClassifier` on scikit-learn's digits data and
   :class:`~skfnn.FNNRegressor` on its diabetes data, and scikit-learn's
   ``MLPClassifier`` / ``MLPRegressor`` with identical parameters, each inside
   ``make_pipeline(StandardScaler(), estimator)`` on the same train/test split
   (``test_size=0.25, random_state=0``), and prints a table of test scores
   (accuracy / R²), fit times and the speed ratio scikit-learn / skfnn;
2. checks skfnn's δ-backpropagation gradient against central finite differences
   on a small random network with :func:`skfnn.check_gradients`.

Only built-in data is used; it takes a few seconds. Subcommands are looked up in
:data:`COMMANDS` (name -> :class:`Command`); the job above is ``compare``, which
is also what runs when no subcommand is given.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Callable

SPLIT = dict(test_size=0.25, random_state=0)
REPEATS = 2  # each model is fitted this many times; the table shows the fastest fit

# Identical keyword parameters for both libraries (keywords only: MLPRegressor's first
# positional parameter is ``loss``, not ``hidden_layer_sizes``).
DIGITS_PARAMS = dict(hidden_layer_sizes=(100,), max_iter=300, random_state=0)
# The diabetes training split has 331 samples and 10 features, and linear models reach
# R² ≈ 0.36 on its test split: the network needs a strong L2 penalty not to overfit.
DIABETES_PARAMS = dict(
    hidden_layer_sizes=(64,), alpha=1000.0, learning_rate_init=0.01, max_iter=2000,
    random_state=0,
)


@dataclass(frozen=True)
class Command:
    """A subcommand of ``python -m skfnn``.

    Parameters
    ----------
    run : callable
        ``run(args) -> int``, called with the parsed :class:`argparse.Namespace`;
        returns the process exit status.
    help : str
        One line for ``--help``.
    add_arguments : callable, default=None
        ``add_arguments(parser)`` adds the subcommand's own options to its parser.
    """

    run: Callable[[argparse.Namespace], int]
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None


def _fit_and_score(make_estimator, params, X_train, X_test, y_train, y_test):
    """Fit ``StandardScaler() + make_estimator(**params)`` :data:`REPEATS` times.

    Returns the test score, the estimator's ``n_iter_`` and the fastest fit time in
    seconds (the first fit in a process also pays one-off costs such as warming up
    BLAS).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    seconds = float("inf")
    for _ in range(REPEATS):
        model = make_pipeline(StandardScaler(), make_estimator(**params))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            model.fit(X_train, y_train)
            seconds = min(seconds, time.perf_counter() - start)
    return model.score(X_test, y_test), model[-1].n_iter_, seconds


def _compare_rows():
    """Yield one table row per (data set, library)."""
    from sklearn.datasets import load_diabetes, load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    from skfnn import FNNClassifier, FNNRegressor

    tasks = [
        ("digits", "accuracy", load_digits, DIGITS_PARAMS, FNNClassifier, MLPClassifier),
        ("diabetes", "R²", load_diabetes, DIABETES_PARAMS, FNNRegressor, MLPRegressor),
    ]
    for name, metric, load, params, ours, theirs in tasks:
        X, y = load(return_X_y=True)
        split = train_test_split(X, y, **SPLIT)
        score_ours, n_iter_ours, time_ours = _fit_and_score(ours, params, *split)
        score_theirs, n_iter_theirs, time_theirs = _fit_and_score(theirs, params, *split)
        ratio = time_theirs / time_ours
        yield name, metric, ours.__name__, score_ours, n_iter_ours, time_ours, ratio
        yield name, metric, theirs.__name__, score_theirs, n_iter_theirs, time_theirs, None


def _print_table(rows):
    header = (
        "data set", "metric", "estimator", "test score", "n_iter_", "fit [s]",
        "sklearn/skfnn time",
    )
    cells = [header] + [
        (
            name,
            metric,
            estimator,
            f"{score:.4f}",
            str(n_iter),
            f"{seconds:.2f}",
            "" if ratio is None else f"{ratio:.2f}",
        )
        for name, metric, estimator, score, n_iter, seconds, ratio in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    left = 3  # text columns are left-aligned, numbers right-aligned
    for k, row in enumerate(cells):
        print(
            "  ".join(
                cell.ljust(w) if i < left else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths))
            ).rstrip()
        )
        if k == 0:
            print("  ".join("-" * w for w in widths))


def _gradient_check_line():
    """Check backprop on a small random network; return (line, passed)."""
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    from skfnn import FNNClassifier, check_gradients

    X, y = load_digits(return_X_y=True)
    X, y = StandardScaler().fit_transform(X[:30]), y[:30]
    estimator = FNNClassifier((8, 6), activation="tanh", random_state=0)
    result = check_gradients(estimator, X, y)
    passed = bool(result.passed)
    line = (
        "gradient check: max relative error of backprop vs central finite differences"
        f" = {float(result.max_rel_error):.2e} ({'passed' if passed else 'FAILED'})"
    )
    return line, passed


def compare(args: argparse.Namespace) -> int:
    """The default job: skfnn vs scikit-learn on built-in data, then a gradient check."""
    _print_table(_compare_rows())
    print()
    line, passed = _gradient_check_line()
    print(line)
    return 0 if passed else 1


COMMANDS: dict[str, Command] = {
    "compare": Command(
        compare,
        "train skfnn and scikit-learn's MLP on digits and diabetes, compare scores and"
        " fit times, and check gradients (the default)",
    ),
}
DEFAULT_COMMAND = "compare"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m skfnn``, one subparser per :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="python -m skfnn",
        usage="%(prog)s [-h] [command] [options]",
        description=(
            "Train skfnn and scikit-learn's MLP with identical settings on built-in data,"
            " compare test scores and fit times, and check backprop gradients against"
            " finite differences."
        ),
        epilog=f"Without a command, runs '{DEFAULT_COMMAND}'.",
    )
    subparsers = parser.add_subparsers(
        dest="command", metavar="command", title="commands"
    )
    for name, command in COMMANDS.items():
        subparser = subparsers.add_parser(name, help=command.help, description=command.help)
        if command.add_arguments is not None:
            command.add_arguments(subparser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m skfnn [command]``; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args([DEFAULT_COMMAND])
    return COMMANDS[args.command].run(args)


if __name__ == "__main__":
    sys.exit(main())

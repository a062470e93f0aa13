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

Fit times are CPU seconds (``time.process_time``, less sensitive to other
processes than wall time), the fastest of :data:`REPEATS` fits, with both
libraries on one BLAS thread: skfnn runs fits this small on one thread by
itself (``skfnn/_threads.py``), and scikit-learn is run under threadpoolctl's
``threadpool_limits(1)``, so that the ratio compares the same work, not two
thread settings (at its default threads, scikit-learn's small products wake
the BLAS pool, whose workers spin against the Python code between them: on a
loaded 2-core machine that made it 5-30× slower than on one thread).

Only built-in data is used; it takes about 6 s of CPU time, imports included
(24 s of wall time on a 2-core machine shared with some ten other busy
processes: the wall time grows with the machine's load). Subcommands are looked up in
:data:`COMMANDS` (name -> :class:`Command`); the job above is ``compare``, which
is also what runs when no subcommand is given.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

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

    Returns the test score, the estimator's ``n_iter_`` and the fastest fit's CPU
    time in seconds (the first fit in a process also pays one-off costs such as
    warming up BLAS).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    seconds = float("inf")
    for _ in range(REPEATS):
        model = make_pipeline(StandardScaler(), make_estimator(**params))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.process_time()
            model.fit(X_train, y_train)
            seconds = min(seconds, time.process_time() - start)
    return model.score(X_test, y_test), model[-1].n_iter_, seconds


def _compare_rows():
    """Yield one table row per (data set, library)."""
    from sklearn.datasets import load_diabetes, load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from threadpoolctl import threadpool_limits

    from skfnn import FNNClassifier, FNNRegressor

    tasks = [
        ("digits", "accuracy", load_digits, DIGITS_PARAMS, FNNClassifier, MLPClassifier),
        ("diabetes", "R²", load_diabetes, DIABETES_PARAMS, FNNRegressor, MLPRegressor),
    ]
    for name, metric, load, params, ours, theirs in tasks:
        X, y = load(return_X_y=True)
        split = train_test_split(X, y, **SPLIT)
        score_ours, n_iter_ours, time_ours = _fit_and_score(ours, params, *split)
        with threadpool_limits(limits=1, user_api="blas"):
            score_theirs, n_iter_theirs, time_theirs = _fit_and_score(theirs, params, *split)
        ratio = time_theirs / time_ours
        yield name, metric, ours.__name__, score_ours, n_iter_ours, time_ours, ratio
        yield name, metric, theirs.__name__, score_theirs, n_iter_theirs, time_theirs, None


def _print_table(rows):
    header = (
        "data set", "metric", "estimator", "test score", "n_iter_", "fit CPU [s]",
        "sklearn/skfnn CPU",
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
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
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
    result = check_gradients(estimator, X, y, raise_on_failure=False)
    passed = bool(result.passed)
    line = (
        "gradient check: max relative error of backprop vs central finite differences"
        f" = {float(result.max_rel_error):.2e} ({'passed' if passed else 'FAILED'})"
    )
    return line, passed


def compare(args: argparse.Namespace) -> int:
    """The default job: skfnn vs scikit-learn on built-in data, then a gradient check."""
    _print_table(_compare_rows())
    print(f"\nfit CPU: CPU seconds of the fastest of {REPEATS} fits, both libraries on one "
          "BLAS thread\n(skfnn by itself for fits this small, scikit-learn under "
          "threadpool_limits(1))\n")
    line, passed = _gradient_check_line()
    print(line)
    return 0 if passed else 1


# (target, loss, output activation): every pairing the estimators allow by name. The
# target names the row of the table: log_loss with logistic outputs is three problems.
PAIRINGS = [
    ("regression", "squared_error", "identity"),
    ("regression", "squared_error", "logistic"),
    ("regression", "squared_error", "tanh"),
    ("regression", "poisson", "exp"),
    ("regression", "poisson", "softplus"),
    ("regression", "absolute_error", "identity"),
    ("regression", "huber", "identity"),
    ("regression", "gaussian_nll", "identity"),
    ("regression", "quantile", "identity"),
    ("regression", "gamma", "exp"),
    ("regression", "gamma", "softplus"),
    ("regression", "tweedie", "exp"),
    ("binary", "log_loss", "logistic"),
    ("multilabel", "log_loss", "logistic"),
    ("multiclass", "log_loss", "softmax"),
    # Any loss with softmax (δ^L through its Jacobian-vector product), and one-vs-rest.
    ("multiclass", "squared_error", "softmax"),
    ("multiclass", "absolute_error", "softmax"),
    ("one-vs-rest", "log_loss", "logistic"),
]


# Parameters a loss takes from the estimator: three quantiles, a three-block head.
_LOSS_PARAMS = {"quantile": {"quantile": [0.1, 0.5, 0.9]}}


def _gradcheck_problem(task, out, rng, n_samples=12, n_features=4, loss=None):
    """Random data whose targets suit the task and the output activation.

    Inputs are small so that the random network stays away from saturation,
    where the log-loss clips probabilities to [eps, 1 − eps] (as scikit-learn)
    and its value stops following a − y.
    """
    from skfnn import FNNClassifier, FNNRegressor

    X = 0.25 * rng.standard_normal((n_samples, n_features))
    if task == "regression":
        y = {"identity": rng.standard_normal(n_samples),
             "logistic": rng.uniform(0.05, 0.95, n_samples),
             "tanh": rng.uniform(-0.9, 0.9, n_samples),
             "exp": rng.poisson(2.0, n_samples).astype(float),
             "softplus": rng.poisson(2.0, n_samples).astype(float)}[out]
        if loss == "gamma":  # positive targets
            y = rng.gamma(2.0, 1.0, n_samples)
        return FNNRegressor, X, y
    if task == "binary":
        return FNNClassifier, X, np.arange(n_samples) % 2
    if task == "multilabel":
        return FNNClassifier, X, (rng.uniform(size=(n_samples, 3)) < 0.5).astype(int)
    return FNNClassifier, X, np.arange(n_samples) % 3  # multiclass and one-vs-rest


def hidden_activations_to_check():
    """Every elementwise built-in but exp.

    exp is registered as the Poisson loss's output link. Stacked, its outputs
    (≈ 1 at z = 0, never centred) compound through the layers and saturate the
    output of a random network, where a finite difference of the clipped
    log-loss no longer measures anything; it is checked as an output activation.
    """
    from skfnn.activations import ACTIVATIONS

    return [name for name, cls in ACTIVATIONS.items() if cls.elementwise and name != "exp"]


def gradcheck(args: argparse.Namespace) -> int:
    """Check backprop against finite differences for every built-in pairing."""
    from skfnn import check_gradients

    hidden = hidden_activations_to_check()
    rng = np.random.default_rng(args.seed)
    header = (f"{'hidden':<11} {'loss':<15} {'output':<9} {'target':<11} "
              f"{'checked':>7} {'skipped':>7} "
              f"{'max abs err':>11} {'max rel err':>11}  verdict")
    dropout = f", dropout {args.dropout} (masks held fixed)" if args.dropout else ""
    print(f"hidden layers {args.hidden}, alpha {args.alpha}{dropout}, random sample weights; "
          "backprop vs central finite differences (float64)\n")
    print(header)
    print("-" * len(header))
    worst, failures = 0.0, 0
    for activation in hidden:
        for task, loss, out in PAIRINGS:
            Estimator, X, y = _gradcheck_problem(task, out, rng, loss=loss)
            estimator = Estimator(tuple(args.hidden), activation=activation, loss=loss,
                                  out_activation=out, alpha=args.alpha, dropout=args.dropout,
                                  random_state=args.seed, **_LOSS_PARAMS.get(loss, {}))
            result = check_gradients(estimator, X, y, rng.uniform(0.5, 2.0, X.shape[0]),
                                     tol=args.tol, raise_on_failure=False)
            checked = sum(b.n_checked for b in result.blocks)
            skipped = sum(b.n_skipped for b in result.blocks)
            worst = max(worst, result.max_rel_error)
            failures += not result.passed
            print(f"{activation:<11} {loss:<15} {out:<9} {task:<11} {checked:>7} {skipped:>7} "
                  f"{result.max_abs_error:>11.2e} {result.max_rel_error:>11.2e}  "
                  f"{'passed' if result.passed else 'FAILED'}")
            if args.verbose or not result.passed:
                print("    " + str(result).replace("\n", "\n    "))
    total = len(hidden) * len(PAIRINGS)
    print(f"\n{total - failures} of {total} configurations passed; largest relative "
          f"error {worst:.2e} (tol {args.tol:.0e})")
    return 1 if failures else 0


def _gradcheck_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hidden", type=int, nargs="+", default=[5, 4],
                        help="hidden layer sizes (default: 5 4)")
    parser.add_argument("--alpha", type=float, default=0.1, help="L2 penalty (default 0.1)")
    parser.add_argument("--dropout", type=float, default=0.0,
                        help="dropout rate of every hidden layer, masks held fixed (default 0)")
    parser.add_argument("--tol", type=float, default=1e-6,
                        help="largest relative error that passes (default 1e-6)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--verbose", action="store_true",
                        help="print the per-layer table of every configuration")


COMMANDS: dict[str, Command] = {
    "gradcheck": Command(
        gradcheck,
        "check the backprop gradient against finite differences for every built-in"
        " activation x loss pairing; exit 1 if any fails",
        _gradcheck_arguments,
    ),
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


def _run_as_script() -> int:
    """main(), quiet when the reader of stdout goes away (``python -m skfnn | head``).

    As CPython's documentation of SIGPIPE recommends: stdout is pointed at
    devnull so that the interpreter's final flush does not raise again.
    """
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return status


if __name__ == "__main__":
    sys.exit(_run_as_script())

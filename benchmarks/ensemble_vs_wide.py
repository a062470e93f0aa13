"""A deep ensemble of K small networks against one network K times as wide, in one run.

The question of docs/ensembles.md: for the same budget of weights, is it better to
train K networks of h hidden units and average them, or one network of K·h units?
(With one hidden layer both have the same number of weights, less K − 1 output
biases; the average of the K networks is itself a network of K·h units, so the wide
network could represent it: the two differ in how they are trained.) A single
network of h units is the third row.

Two problems from scikit-learn's bundled data (no download):

- ``diabetes``: regression, 442 rows × 10 features, a noisy target (held-out R²
  around 0.4 for any model); y standardised with the training split's mean and std;
- ``digits``: classification, 1,797 rows × 64 features, 10 classes; accuracy and
  log-loss.

Two ways of training, the same for the three models: ``adam``, 300 epochs at most
(scikit-learn's defaults otherwise: the training loss's plateau stops it), and
``early_stopping=True`` (10 % of the training split held out, 1,000 epochs at most).

Each of ``--seeds`` seeds s draws a 70 / 30 train / test split (stratified for
digits) and seeds the networks with s (the ensemble's ``random_state=s`` draws its
members' seeds); X is standardised on the training split. Printed: the medians over
the seeds of the held-out score and of the fit's CPU seconds (``time.process_time``,
one BLAS thread), the CPU seconds of the ensemble's members fitted one by one (what
the stack saves), and on how many splits the ensemble's score beats the wide
network's. The output is the markdown table of docs/ensembles.md.

Run from the repository root::

    python benchmarks/ensemble_vs_wide.py                  # 10 seeds, h = 16, K = 5
    python benchmarks/ensemble_vs_wide.py --seeds 3 --problems digits --hidden 32
"""

import argparse
import platform
import statistics
import time
import warnings

import numpy as np
import sklearn
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, log_loss, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import skfnn
from skfnn import FNNClassifier, FNNRegressor
from skfnn.ensemble import FNNEnsembleClassifier, FNNEnsembleRegressor

#: name → (loader, is a classifier)
PROBLEMS = {"diabetes": (load_diabetes, False), "digits": (load_digits, True)}
#: name → (its label in the table, the parameters every model of the comparison is
#: trained with)
TRAINING = {"epochs": ("≤ 300 epochs", dict(max_iter=300)),
            "early-stopping": ("early stopping", dict(max_iter=1000, early_stopping=True))}


def split(problem, seed):
    """(X_train, X_test, y_train, y_test) of one seed, X (and a regression's y) scaled."""
    load, classifier = PROBLEMS[problem]
    X, y = load(return_X_y=True)
    X_fit, X_test, y_fit, y_test = train_test_split(
        X, y, test_size=0.3, random_state=seed, stratify=y if classifier else None)
    scaler = StandardScaler().fit(X_fit)
    X_fit, X_test = scaler.transform(X_fit), scaler.transform(X_test)
    if not classifier:  # R² is unchanged by one affine map of both y and the predictions
        mean, std = y_fit.mean(), y_fit.std()
        y_fit, y_test = (y_fit - mean) / std, (y_test - mean) / std
    return X_fit, X_test, y_fit, y_test


def models(classifier, hidden, members, params, seed):
    """The three contenders, named: the ensemble, one wide network, one small network."""
    network = FNNClassifier if classifier else FNNRegressor
    ensemble = FNNEnsembleClassifier if classifier else FNNEnsembleRegressor
    return {
        f"ensemble of {members} × {hidden}": ensemble(network((hidden,), **params),
                                                      n_estimators=members, random_state=seed),
        f"one network of {members * hidden}": network((members * hidden,), random_state=seed,
                                                     **params),
        f"one network of {hidden}": network((hidden,), random_state=seed, **params),
    }


def measure(model, classifier, data):
    """(score, log-loss or nan, CPU seconds of the fit, of K separate fits) on one split.

    For the ensemble, the last is the CPU time of its members fitted one by one
    (each ``clone(estimator).set_params(random_state=seed).fit``, the same networks):
    what training them as one stack saved. NaN for the other models.
    """
    X_fit, X_test, y_fit, y_test = data
    start = time.process_time()
    model.fit(X_fit, y_fit)
    seconds, separate = time.process_time() - start, np.nan
    if hasattr(model, "member_seeds_"):
        members = [clone(model.estimator).set_params(random_state=int(seed))
                   for seed in model.member_seeds_]
        start = time.process_time()
        for member in members:
            member.fit(X_fit, y_fit)
        separate = time.process_time() - start
    if not classifier:
        return r2_score(y_test, model.predict(X_test)), np.nan, seconds, separate
    return (accuracy_score(y_test, model.predict(X_test)),
            log_loss(y_test, model.predict_proba(X_test), labels=model.classes_), seconds,
            separate)


def compare(problem, training, args):
    """One row per model: the medians over the seeds, and the ensemble's wins."""
    classifier = PROBLEMS[problem][1]
    results = {}
    for seed in range(args.seeds):
        data = split(problem, seed)
        contenders = models(classifier, args.hidden, args.members, TRAINING[training][1],
                            seed)
        for name, model in contenders.items():
            results.setdefault(name, []).append(measure(model, classifier, data))
    ensemble, wide = list(results.values())[:2]
    wins = sum(e[0] > w[0] for e, w in zip(ensemble, wide, strict=True))
    return [dict(problem=problem, training=TRAINING[training][0], model=name,
                 score=statistics.median(r[0] for r in runs),
                 log_loss=statistics.median(r[1] for r in runs),
                 seconds=statistics.median(r[2] for r in runs),
                 separate=statistics.median(r[3] for r in runs),
                 wins=f"{wins}/{args.seeds}" if k == 0 else "")
            for k, (name, runs) in enumerate(results.items())]


def print_table(rows):
    print("| problem | training | model | held-out score | log-loss | fit CPU s "
          "| its members fitted one by one, CPU s | ensemble beats the wide network |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        metric = "accuracy" if PROBLEMS[r["problem"]][1] else "R²"
        loss = "" if np.isnan(r["log_loss"]) else f"{r['log_loss']:.3f}"
        separate = "" if np.isnan(r["separate"]) else f"{r['separate']:.2f}"
        print(f"| {r['problem']} | {r['training']} | {r['model']} | {metric} {r['score']:.3f} "
              f"| {loss} | {r['seconds']:.2f} | {separate} | {r['wins']} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--hidden", type=int, default=16, help="units h of a member")
    parser.add_argument("--members", type=int, default=5, help="the ensemble's K")
    parser.add_argument("--problems", nargs="*", default=list(PROBLEMS), choices=list(PROBLEMS))
    parser.add_argument("--training", nargs="*", default=list(TRAINING), choices=list(TRAINING))
    args = parser.parse_args(argv)
    print(f"python {platform.python_version()}, numpy {np.__version__}, scikit-learn "
          f"{sklearn.__version__}, skfnn {skfnn.__version__}; {platform.processor() or '?'}")
    print(f"medians over {args.seeds} seeds (train / test split and networks); CPU seconds "
          "of the fit on one BLAS thread\n")
    rows = []
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore", ConvergenceWarning)  # 300 epochs may not converge
        for problem in args.problems:
            for training in args.training:
                rows += compare(problem, training, args)
    print_table(rows)
    return rows


if __name__ == "__main__":
    main()

"""What skfnn tells its user: the main job's table, the gradcheck command's rows and
pipes, error messages, and where warnings point."""

import subprocess
import sys
from pathlib import Path

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

ROOT = Path(__file__).resolve().parents[1]


def blas_threads():
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


# ----------------------------------------------------------------------------
# python -m skfnn (compare) and python -m skfnn gradcheck
# ----------------------------------------------------------------------------

def test_the_main_job_times_both_libraries_on_one_blas_thread(monkeypatch, capsys):
    """skfnn runs such small fits on one thread by itself: scikit-learn's must too, or
    the ratio compares thread settings, not work (15-31x on a busy machine)."""
    import skfnn.__main__ as cli

    seen = {}

    def fake_fit_and_score(make_estimator, params, *split):
        seen[make_estimator.__name__] = blas_threads()
        return 0.5, 1, 1.0

    monkeypatch.setattr(cli, "_fit_and_score", fake_fit_and_score)
    monkeypatch.setattr(cli, "_gradient_check_line", lambda: ("gradient check: skipped", True))
    with threadpool_limits(limits=2, user_api="blas"):
        assert cli.main([]) == 0
        assert blas_threads() == {2}
    assert seen == {"FNNClassifier": {2}, "MLPClassifier": {1},
                    "FNNRegressor": {2}, "MLPRegressor": {1}}
    out = capsys.readouterr().out
    assert "both libraries on one BLAS thread" in out and "threadpool_limits(1)" in out


def test_gradcheck_rows_name_their_target(capsys):
    """log_loss with logistic outputs is binary, multilabel or one-vs-rest: three rows that
    must read differently."""
    from skfnn.__main__ import main

    assert main(["gradcheck", "--hidden", "3"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()
            if line.endswith(("passed", "FAILED"))]
    logistic = [row[3] for row in rows if row[:3] == ["relu", "log_loss", "logistic"]]
    assert logistic == ["binary", "multilabel", "one-vs-rest"]
    assert len({tuple(row[:4]) for row in rows}) == len(rows)


def test_gradcheck_piped_into_head_ends_without_a_traceback():
    process = subprocess.Popen([sys.executable, "-m", "skfnn", "gradcheck"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = process.stdout.readline()
    process.stdout.close()  # as `head -1` exits
    stderr = process.stderr.read()
    process.stderr.close()
    assert process.wait(timeout=120) == 1
    assert first.startswith("hidden layers")
    assert stderr == ""


# ----------------------------------------------------------------------------
# loss="binary_log_loss" needs a binary or multilabel target
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("out_activation", ["auto", "logistic", "softmax"])
def test_binary_log_loss_on_a_multiclass_target_is_refused(out_activation):
    import numpy as np

    from skfnn import FNNClassifier

    X = np.random.default_rng(0).standard_normal((30, 3))
    clf = FNNClassifier((4,), loss="binary_log_loss", out_activation=out_activation,
                        max_iter=2)
    with pytest.raises(ValueError, match=r"loss='binary_log_loss'.*multiclass target "
                                         r"with 3 classes.*loss='log_loss'"):
        clf.fit(X, np.arange(30) % 3)
    assert not hasattr(clf, "coefs_")


def test_binary_log_loss_trains_binary_and_multilabel_targets():
    """Each output unit its own Bernoulli variable: the loss is the sum over units of the
    two-class log-loss, recomputed here from the fitted model's probabilities."""
    import numpy as np

    from skfnn import FNNClassifier

    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    for y in (np.arange(40) % 2, (rng.uniform(size=(40, 3)) < 0.5).astype(int)):
        clf = FNNClassifier((4,), loss="binary_log_loss", alpha=0, solver="lbfgs",
                            max_iter=3, random_state=0).fit(X, y)
        p = clf.predict_proba(X)
        p1 = p[:, 1] if y.ndim == 1 else p
        Y = y if y.ndim == 2 else y[:, None]
        p1 = p1.reshape(Y.shape)
        expected = -np.mean(np.sum(Y * np.log(p1) + (1 - Y) * np.log(1 - p1), axis=1))
        assert clf._net.loss.name == "binary_log_loss"
        np.testing.assert_allclose(clf.loss_curve_[-1] if clf.loss_curve_ else clf.loss_,
                                   expected, rtol=1e-3)


# ----------------------------------------------------------------------------
# Warnings point at the user's line
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_a_convergence_warning_points_at_the_callers_line(solver):
    import numpy as np
    from sklearn.exceptions import ConvergenceWarning

    from skfnn import FNNRegressor

    X = np.random.default_rng(0).standard_normal((40, 3))
    est = FNNRegressor((4,), solver=solver, max_iter=1, random_state=0)
    with pytest.warns(ConvergenceWarning) as record:
        est.fit(X, X[:, 0])
    assert [w.filename for w in record] == [__file__] * len(record)


def test_a_warning_through_a_meta_estimator_points_past_scikit_learn():
    """Under cross_val_score (scikit-learn's and joblib's code between the user and
    skfnn) the warning skips their frames too, as it skips skfnn's."""
    import numpy as np
    from sklearn.model_selection import cross_val_score

    from skfnn import FNNRegressor

    X = np.random.default_rng(0).standard_normal((40, 3))
    est = FNNRegressor((4,), batch_size=100, max_iter=50, random_state=0)
    with pytest.warns(UserWarning, match="batch_size") as record:
        cross_val_score(est, X, X[:, 0], cv=2)
    assert {w.filename for w in record if "batch_size" in str(w.message)} == {__file__}

"""skfnn.callbacks.Checkpoint: what it saves, when, what it keeps, and that a file resumes.

The resume tests compare a run interrupted at epoch k (its checkpoint loaded
from disk, then continued) with the same run uninterrupted, in one process:
weights, curves, t_ and the optimizer's state must agree bit for bit. The
saving rules are checked against the estimator's own curves (validation_scores_,
loss_curve_), and the saved models against scores recomputed from their weights.
"""

import sys

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import make_classification, make_regression
from sklearn.model_selection import train_test_split

from skfnn import FNNClassifier, FNNRegressor
from skfnn._sklearn_compat import HAS_CALLBACKS

pytest.importorskip("skops")
pytestmark = pytest.mark.skipif(not HAS_CALLBACKS,
                                reason="sklearn.callback needs scikit-learn >= 1.9")

from skfnn import io  # noqa: E402
from skfnn.callbacks import Checkpoint  # noqa: E402

X, y = make_classification(n_samples=150, n_features=6, n_informative=4, n_classes=3,
                           random_state=0)
XR, YR = make_regression(n_samples=120, n_features=5, noise=1.0, random_state=0)
YR = YR / YR.std()
CLASSES = np.unique(y)


def _state(est):
    """Everything a continued fit depends on, as arrays and numbers."""
    opt = est._optimizer
    arrays = {k: v for k, v in vars(opt).items() if isinstance(v, np.ndarray)}
    numbers = {k: v for k, v in vars(opt).items() if not isinstance(v, np.ndarray)}
    return ([*est.coefs_, *est.intercepts_], est.loss_curve_, est.t_, arrays, numbers)


def _assert_same(a, b):
    params_a, curve_a, t_a, arrays_a, numbers_a = _state(a)
    params_b, curve_b, t_b, arrays_b, numbers_b = _state(b)
    for p, q in zip(params_a, params_b, strict=True):
        assert_array_equal(p, q, strict=True)
    assert curve_a == curve_b
    assert t_a == t_b
    assert arrays_a.keys() == arrays_b.keys() and arrays_a  # the moments / velocity
    for key in arrays_a:
        assert_array_equal(arrays_a[key], arrays_b[key], strict=True)
    assert numbers_a == numbers_b  # t, epoch, the schedule and its current rate


RESUMED = [
    (FNNClassifier, dict(solver="adam", learning_rate="cosine", max_iter=8)),
    (FNNClassifier, dict(solver="sgd", momentum=0.9, warmup_epochs=3)),
    (FNNRegressor, dict(solver="adamw", weight_decay=0.05, clip_norm=0.5)),
    (FNNRegressor, dict(solver="rmsprop", dropout=0.2)),
]


@pytest.mark.parametrize("cls, params", RESUMED, ids=lambda p: getattr(p, "get", lambda k: "")(
    "solver") or p.__name__)
def test_partial_fit_resumed_from_a_checkpoint_is_the_uninterrupted_run(tmp_path, cls, params):
    data = (X, y) if cls is FNNClassifier else (XR, YR)
    extra = {"classes": CLASSES} if cls is FNNClassifier else {}
    n_epochs, k = 8, 3

    checkpoint = Checkpoint(tmp_path)
    whole = cls((7,), batch_size=32, random_state=0, **params).set_callbacks(checkpoint)
    for _ in range(n_epochs):
        whole.partial_fit(*data, **extra)
    assert [p.name for p in checkpoint.paths_] == [f"ckpt-{e:04d}.skops"
                                                   for e in range(1, n_epochs + 1)]

    resumed = io.load(tmp_path / f"ckpt-{k:04d}.skops")
    assert len(resumed.loss_curve_) == k and resumed.t_ == k * data[0].shape[0]
    if hasattr(resumed._optimizer, "t"):  # Adam's step count: one per minibatch
        assert resumed._optimizer.t == k * -(-data[0].shape[0] // 32)
    assert not hasattr(resumed, "_skl_callbacks")  # the file holds no callback
    for _ in range(n_epochs - k):
        resumed.partial_fit(*data)
    _assert_same(resumed, whole)


def test_the_optimizer_state_is_what_makes_the_resume_exact(tmp_path):
    """Without the saved optimizer (Adam's moments, its step count), the continued run
    differs: the resume test above would catch a checkpoint that lost it."""
    checkpoint = Checkpoint(tmp_path)
    whole = FNNClassifier((7,), solver="adam", batch_size=32, random_state=0)
    whole.set_callbacks(checkpoint)
    for _ in range(5):
        whole.partial_fit(X, y, classes=CLASSES)
    restarted = io.load(tmp_path / "ckpt-0002.skops")
    del restarted._optimizer
    for _ in range(3):
        restarted.partial_fit(X, y)
    assert not np.array_equal(restarted.coefs_[0], whole.coefs_[0])


def test_a_checkpoint_is_the_model_after_that_epoch_and_warm_starts_as_it(tmp_path):
    """The file of epoch k of a fit is the model fit(max_iter=k) gives; a warm-started
    fit continues from it as from that model (a new optimizer, as every warm start)."""
    params = dict(solver="sgd", batch_size=32, random_state=0, warm_start=True)
    checkpoint = Checkpoint(tmp_path, every=2)
    with pytest.warns(Warning, match="Maximum iterations"):
        FNNRegressor((6,), max_iter=6, **params).set_callbacks(checkpoint).fit(XR, YR)
    assert [p.name for p in checkpoint.paths_] == ["ckpt-0002.skops", "ckpt-0004.skops",
                                                   "ckpt-0006.skops"]
    loaded = io.load(tmp_path / "ckpt-0004.skops")
    with pytest.warns(Warning, match="Maximum iterations"):
        direct = FNNRegressor((6,), max_iter=4, **params).fit(XR, YR)
    _assert_same(loaded, direct)
    with pytest.warns(Warning, match="Maximum iterations"):
        loaded.set_params(max_iter=3).fit(XR, YR)
        direct.set_params(max_iter=3).fit(XR, YR)
    _assert_same(loaded, direct)


def test_keep_deletes_the_oldest_files(tmp_path):
    checkpoint = Checkpoint(tmp_path, every=1, keep=2)
    clf = FNNClassifier((5,), max_iter=5, random_state=0).set_callbacks(checkpoint)
    with pytest.warns(Warning, match="Maximum iterations"):
        clf.fit(X, y)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-0004.skops", "ckpt-0005.skops"]
    assert checkpoint.paths_ == [tmp_path / "ckpt-0004.skops", tmp_path / "ckpt-0005.skops"]
    # A fresh fit counts from 1 again: its files are the newest, the older ones go.
    with pytest.warns(Warning, match="Maximum iterations"):
        clf.set_params(max_iter=3).fit(X, y)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-0002.skops", "ckpt-0003.skops"]
    assert io.load(tmp_path / "ckpt-0003.skops").loss_curve_ == clf.loss_curve_


def test_monitor_validation_score_saves_each_new_best(tmp_path):
    X_train, X_val, y_train, y_val = train_test_split(X, y, random_state=0)
    checkpoint = Checkpoint(tmp_path, filename="best-{epoch}-{validation_score:.3f}.skops",
                            every=None, monitor="validation_score")
    clf = FNNClassifier((5,), solver="sgd", learning_rate_init=0.05, max_iter=40,
                        random_state=0).set_callbacks(checkpoint)
    with pytest.warns(Warning, match="Maximum iterations"):
        clf.fit(X_train, y_train, X_val=X_val, y_val=y_val)
    scores = clf.validation_scores_
    best_epochs = [e for e in range(1, len(scores) + 1) if scores[e - 1] > max(scores[:e - 1],
                                                                                default=-1)]
    assert 1 < len(best_epochs) < len(scores)
    assert [p.name for p in checkpoint.paths_] == [
        f"best-{e}-{scores[e - 1]:.3f}.skops" for e in best_epochs]
    for e, path in zip(best_epochs, checkpoint.paths_, strict=True):
        saved = io.load(path)  # the model of that epoch: its score, recomputed
        assert saved.score(X_val, y_val) == scores[e - 1]
        assert saved.validation_scores_ == scores[:e]


def test_monitor_loss_saves_each_new_lowest_training_loss(tmp_path):
    checkpoint = Checkpoint(tmp_path, every=None, monitor="loss")
    reg = FNNRegressor((8,), solver="sgd", learning_rate_init=0.3, momentum=0.9,
                       batch_size=16, max_iter=30, random_state=0, n_iter_no_change=100)
    with pytest.warns(Warning, match="Maximum iterations"):
        reg.set_callbacks(checkpoint).fit(XR, YR)
    curve = reg.loss_curve_
    lowest = [e for e in range(1, len(curve) + 1) if curve[e - 1] < min(curve[:e - 1],
                                                                         default=np.inf)]
    assert 1 < len(lowest) < len(curve)
    assert [p.name for p in checkpoint.paths_] == [f"ckpt-{e:04d}.skops" for e in lowest]


def test_every_and_monitor_together(tmp_path):
    X_train, X_val, y_train, y_val = train_test_split(X, y, random_state=1)
    checkpoint = Checkpoint(tmp_path, every=4, monitor="validation_score")
    clf = FNNClassifier((5,), max_iter=12, random_state=0).set_callbacks(checkpoint)
    with pytest.warns(Warning, match="Maximum iterations"):
        clf.fit(X_train, y_train, X_val=X_val, y_val=y_val)
    scores = clf.validation_scores_
    expected = [e for e in range(1, 13)
                if e % 4 == 0 or scores[e - 1] > max(scores[:e - 1], default=-1)]
    assert [p.name for p in checkpoint.paths_] == [f"ckpt-{e:04d}.skops" for e in expected]


def test_lbfgs_saves_each_iteration_once(tmp_path):
    checkpoint = Checkpoint(tmp_path)
    clf = FNNClassifier((5,), solver="lbfgs", max_iter=4, random_state=0)
    with pytest.warns(Warning, match="failed to converge"):
        clf.set_callbacks(checkpoint).fit(X, y)
    # L-BFGS's trailing task (begun after the last iteration, ended empty) saves nothing.
    assert [p.name for p in checkpoint.paths_] == [f"ckpt-{e:04d}.skops"
                                                   for e in range(1, len(clf.loss_curve_) + 1)]
    assert_array_equal(io.load(checkpoint.paths_[-1]).coefs_[0], clf.coefs_[0])


def test_monitor_without_validation_data_is_a_clear_error(tmp_path):
    clf = FNNClassifier((5,), max_iter=3, random_state=0)
    clf.set_callbacks(Checkpoint(tmp_path, monitor="validation_score"))
    with pytest.raises(ValueError, match="X_val and y_val, or with early_stopping=True"):
        clf.fit(X, y)
    assert not hasattr(clf, "coefs_")  # the failed fit left the estimator as it was


@pytest.mark.parametrize("kwargs, match", [
    (dict(every=0), "every must be a positive integer"),
    (dict(every=2.0), "every must be a positive integer"),
    (dict(keep=0), "keep must be a positive integer"),
    (dict(monitor="accuracy"), "monitor must be one of"),
    (dict(every=None), "would never save"),
    (dict(filename="ckpt-{step}.skops"), "does not format with the fields"),
    (dict(filename="sub/ckpt-{epoch}.skops"), "without a directory"),
])
def test_bad_parameters(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        Checkpoint(tmp_path, **kwargs)


def test_missing_skops_is_named(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "skops.io", None)  # import skops.io now fails
    with pytest.raises(ImportError, match=r'skfnn\[io\]'):
        Checkpoint(tmp_path)


def test_the_directory_is_created_and_no_temporary_file_stays(tmp_path):
    directory = tmp_path / "a" / "b"
    clf = FNNClassifier((5,), max_iter=2, random_state=0)
    with pytest.warns(Warning, match="Maximum iterations"):
        clf.set_callbacks(Checkpoint(directory)).fit(X, y)
    assert sorted(p.name for p in directory.iterdir()) == ["ckpt-0001.skops",
                                                           "ckpt-0002.skops"]

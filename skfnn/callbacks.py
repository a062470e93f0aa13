"""Callbacks for scikit-learn's callback API (``sklearn.callback``): :class:`Checkpoint`.

A callback is set with ``estimator.set_callbacks(...)`` (scikit-learn ≥ 1.9) and
is called after each epoch (L-BFGS iteration) of ``fit`` and ``partial_fit``;
docs/monitoring.md describes the tasks and what each carries.
"""

import math
import os
import tempfile
from numbers import Integral
from pathlib import Path

__all__ = ["Checkpoint"]

_MONITORS = (None, "validation_score", "loss")
# Attributes of a fit's callbacks, left out of a checkpoint: a file holds the model and
# its training state, and loads without trusting any callback's code.
_CALLBACK_STATE = ("_skl_callbacks", "_callback_fit_ctx", "_skl_callbacks_to_teardown",
                   "_parent_callback_ctx")


class Checkpoint:
    """Save the estimator through :mod:`skfnn.io` during training.

    After an epoch (an L-BFGS iteration), the estimator is written to
    ``directory / filename.format(...)`` when the epoch number is a multiple
    of ``every``, or when the quantity named by ``monitor`` improved. The
    epoch number is the number of epochs the model has been trained for,
    ``len(loss_curve_)``: it goes on counting across ``partial_fit`` calls and
    warm-started fits, and restarts at 1 with a fresh fit.

    A file holds the estimator as it is after that epoch, with everything
    training needs to go on: the weights, ``t_``, ``n_iter_``, the curves,
    the optimizer's state (Adam's moments and step count, SGD's velocity, the
    schedule's current rate and epoch count), the early-stopping bookkeeping.
    Continuing a loaded checkpoint with ``partial_fit`` therefore trains the
    same model, bit for bit, as if training had never stopped. A
    ``warm_start=True`` fit continues from its weights with a new optimizer,
    as every warm-started fit does (scikit-learn's rule). The estimator's
    callbacks are not saved (set them again on the loaded model); load a file
    with :func:`skfnn.io.load`. Needs skops (``pip install "skfnn[io]"``).

    Parameters
    ----------
    directory : str or path-like
        Where the files go; created if missing.
    filename : str, default="ckpt-{epoch:04d}.skops"
        The files' name, a :meth:`str.format` pattern with the fields
        ``epoch`` (int), ``loss`` (the epoch's ``loss_curve_`` entry) and
        ``validation_score`` (its ``validation_scores_`` entry, NaN without
        validation data). A name that repeats (no ``{epoch}``) is overwritten.
    every : int or None, default=1
        Save after every ``every``-th epoch (epochs ``every``, 2 ``every``,
        ...). None: only on improvement.
    monitor : {None, "validation_score", "loss"}, default=None
        Also save after an epoch that improved it: ``"validation_score"``, an
        epoch whose validation score (``validation_scores_[-1]``; needs
        ``X_val`` or ``early_stopping=True``) is greater than every earlier
        entry of ``validation_scores_`` (the epoch whose weights early stopping
        would keep); ``"loss"``, an epoch whose ``loss_curve_`` entry is lower
        than every earlier one. A NaN never improves; the first epoch always does.
    keep : int or None, default=None
        The number of files kept: after a save, the oldest files this callback
        wrote beyond the ``keep`` most recent are deleted. None keeps them all.

    Attributes
    ----------
    paths_ : list of pathlib.Path
        The files this callback wrote that are still kept, oldest first.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.datasets import load_iris
    >>> from skfnn import FNNClassifier
    >>> from skfnn.callbacks import Checkpoint
    >>> X, y = load_iris(return_X_y=True)
    >>> directory = tempfile.mkdtemp()
    >>> checkpoint = Checkpoint(directory, every=5, keep=2)
    >>> clf = FNNClassifier((8,), max_iter=20, random_state=0).set_callbacks(checkpoint)
    >>> clf = clf.fit(X, y)
    >>> [path.name for path in checkpoint.paths_]
    ['ckpt-0015.skops', 'ckpt-0020.skops']
    """

    def __init__(self, directory, *, filename="ckpt-{epoch:04d}.skops", every=1, monitor=None,
                 keep=None):
        from .io import _skops

        _skops()  # the io extra, asked for now rather than after the first epoch
        self.directory = Path(directory)
        self.filename = _checked_filename(filename)
        self.every = _checked_count(every, "every")
        self.keep = _checked_count(keep, "keep")
        if monitor not in _MONITORS:
            raise ValueError(f"Checkpoint's monitor must be one of {list(_MONITORS)}, "
                             f"got {monitor!r}.")
        if every is None and monitor is None:
            raise ValueError("Checkpoint with every=None and monitor=None would never save: "
                             "give every=n, monitor=..., or both.")
        self.monitor = monitor
        self.paths_ = []

    def setup(self, estimator, context):
        """Create the directory at the start of a fit."""
        self.directory.mkdir(parents=True, exist_ok=True)

    def teardown(self, estimator, context):
        """Nothing to release."""

    def on_fit_task_begin(self, estimator, context):
        """Nothing to do before an epoch."""

    def on_fit_task_end(self, estimator, context, *, X=None):
        """After an epoch: save if due. Returns False (never stops training)."""
        # The fit's own task (no parent), and a task ended empty (no X: after L-BFGS's last
        # iteration, or an epoch Ctrl-C cut short), are not epochs that ran.
        if context.parent is None or X is None:
            return False
        epoch = len(estimator.loss_curve_)
        if self._due(estimator, epoch):
            self._save(estimator, epoch)
        return False

    def _due(self, estimator, epoch):
        improved = self.monitor is not None and self._improved(estimator)
        return improved or (self.every is not None and epoch % self.every == 0)

    def _improved(self, estimator):
        if self.monitor == "loss":
            return _improved(estimator.loss_curve_, lower_is_better=True)
        scores = estimator.validation_scores_
        if not scores:
            raise ValueError(
                "Checkpoint(monitor='validation_score') needs a validation score after "
                "each epoch: fit with X_val and y_val, or with early_stopping=True.")
        return _improved(scores, lower_is_better=False)

    def _save(self, estimator, epoch):
        from . import io

        curve = estimator.validation_scores_
        score = curve[-1] if curve else math.nan
        path = self.directory / self.filename.format(
            epoch=epoch, loss=estimator.loss_curve_[-1], validation_score=score)
        _write_atomically(io.dumps(_without_callbacks(estimator)), path)
        if path in self.paths_:
            self.paths_.remove(path)
        self.paths_.append(path)
        if self.keep is not None:
            while len(self.paths_) > self.keep:
                self.paths_.pop(0).unlink(missing_ok=True)


def _improved(curve, *, lower_is_better):
    """Whether the curve's last entry beats every earlier one (NaNs never count)."""
    last, earlier = curve[-1], [v for v in curve[:-1] if not math.isnan(v)]
    if math.isnan(last):
        return False
    if not earlier:
        return True
    return last < min(earlier) if lower_is_better else last > max(earlier)


def _without_callbacks(estimator):
    """A shallow copy of the estimator without its callbacks (their code is not model state)."""
    copy = object.__new__(type(estimator))
    copy.__dict__.update({k: v for k, v in estimator.__dict__.items()
                          if k not in _CALLBACK_STATE})
    return copy


def _write_atomically(data, path):
    """Write ``data`` to a temporary file next to ``path``, then rename it there: a crash
    while writing leaves the previous file (or none), never a truncated one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _checked_count(value, name):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"Checkpoint's {name} must be a positive integer or None, "
                         f"got {value!r}.")
    return int(value)


def _checked_filename(filename):
    """The pattern, if it formats with the documented fields into a plain file name."""
    if not isinstance(filename, str):
        raise TypeError(f"Checkpoint's filename must be a str pattern, got {filename!r}.")
    try:
        name = filename.format(epoch=1, loss=0.5, validation_score=0.5)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"Checkpoint's filename {filename!r} does not format with the fields epoch, "
            f"loss and validation_score: {type(exc).__name__}: {exc}") from exc
    if not name or os.sep in name or (os.altsep and os.altsep in name) or name in (".", ".."):
        raise ValueError(f"Checkpoint's filename {filename!r} must give a file name, "
                         "without a directory (pass the directory as directory=).")
    return filename

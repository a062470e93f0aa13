"""Plots of a network's training: :class:`TrainingCurveDisplay` and
:class:`LearningRateFinderDisplay`.

matplotlib is optional (``pip install "skfnn[plot]"``): it is imported only when
a display is built or drawn, so ``import skfnn`` works without it.
"""

import numpy as np
from sklearn.base import is_classifier
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ._classifier import FNNClassifier
from ._lr_finder import range_test
from ._problem import STOCHASTIC_SOLVERS as _STOCHASTIC_SOLVERS
from ._regressor import FNNRegressor
from ._sklearn_compat import _validate_style_kwargs, check_matplotlib_support

__all__ = ["LearningRateFinderDisplay", "TrainingCurveDisplay", "lr_finder"]


def _check_matplotlib(caller_name):
    """scikit-learn's check, with the skfnn extra that installs matplotlib named."""
    try:
        check_matplotlib_support(caller_name)
    except ImportError as exc:
        raise ImportError(f'{exc}, or with skfnn\'s plot extra: `pip install "skfnn[plot]"`.') \
            from exc


class TrainingCurveDisplay:
    """Training curves of a fitted network: losses and validation score per epoch.

    It is recommended to use :meth:`TrainingCurveDisplay.from_estimator`,
    which reads the curves off a fitted :class:`~skfnn.FNNClassifier` or
    :class:`~skfnn.FNNRegressor`. All parameters are stored as attributes.

    Parameters
    ----------
    loss_curve : array-like of shape (n_epochs,)
        The training objective after each epoch (``loss_curve_``), drawn at
        epochs 1, 2, ..., n_epochs.
    validation_loss_curve : array-like of shape (n_epochs,), default=None
        The objective on the validation data after each epoch
        (``validation_loss_curve_``), on the same axis as ``loss_curve``.
    validation_scores : array-like of shape (n_epochs,), default=None
        The validation score after each epoch (``validation_scores_``), drawn
        on a second y axis.
    best_epoch : int, default=None
        The (1-based) epoch whose weights early stopping restored, marked by a
        vertical line; None draws no mark.
    score_name : str, default=None
        The label of the score axis; None means ``"Score"``.
    epoch_name : str, default="Epoch"
        What one entry of the curves is: the x-axis label (``"Iteration"`` for
        L-BFGS).

    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes with the loss curves (and the legend).
    score_ax_ : matplotlib Axes or None
        The second y axis (``ax_.twinx()``) with the validation score, or None
        without ``validation_scores``.
    figure_ : matplotlib Figure
        The figure holding ``ax_``.
    lines_ : dict of str to matplotlib Line2D or None
        The curves, under ``"training_loss"``, ``"validation_loss"`` and
        ``"validation_score"``; None for a curve that was not given.
    best_epoch_line_ : matplotlib Line2D or None
        The vertical line at ``best_epoch``, or None.

    See Also
    --------
    sklearn.model_selection.LearningCurveDisplay : Scores against training set size.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from skfnn.plotting import TrainingCurveDisplay
    >>> display = TrainingCurveDisplay(loss_curve=[0.9, 0.5, 0.4],
    ...                                validation_loss_curve=[1.0, 0.7, 0.8],
    ...                                validation_scores=[0.6, 0.8, 0.7], best_epoch=2,
    ...                                score_name="Accuracy").plot()
    >>> display.lines_["validation_score"].get_ydata()
    array([0.6, 0.8, 0.7])
    >>> display.best_epoch_line_.get_xdata()
    [2, 2]
    >>> plt.close("all")
    """

    def __init__(self, *, loss_curve, validation_loss_curve=None, validation_scores=None,
                 best_epoch=None, score_name=None, epoch_name="Epoch"):
        self.loss_curve = loss_curve
        self.validation_loss_curve = validation_loss_curve
        self.validation_scores = validation_scores
        self.best_epoch = best_epoch
        self.score_name = score_name
        self.epoch_name = epoch_name

    def plot(self, ax=None, *, score_name=None, training_loss_kw=None,
             validation_loss_kw=None, validation_score_kw=None, best_epoch_kw=None):
        """Plot the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw the losses on; the score gets ``ax.twinx()``. None
            creates a new figure and axes.
        score_name : str, default=None
            The score axis label; None uses the ``score_name`` attribute.
        training_loss_kw, validation_loss_kw, validation_score_kw : dict, default=None
            Keyword arguments for matplotlib's ``plot`` drawing each curve
            (``label``, ``color``, ...), over skfnn's defaults.
        best_epoch_kw : dict, default=None
            Keyword arguments for matplotlib's ``axvline`` marking ``best_epoch``.

        Returns
        -------
        display : TrainingCurveDisplay
            This object, with the matplotlib artists stored.
        """
        _check_matplotlib(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        if ax is None:  # constrained: room for the right axis's label and the legend
            _, ax = plt.subplots(layout="constrained")
        score_name = self.score_name if score_name is None else score_name
        score_name = "Score" if score_name is None else score_name
        self.lines_ = {
            "training_loss": _curve(ax, self.loss_curve, training_loss_kw,
                                    label="Training loss", color="C0"),
            "validation_loss": _curve(ax, self.validation_loss_curve, validation_loss_kw,
                                      label="Validation loss", color="C1"),
            "validation_score": None,
        }
        self.score_ax_ = None
        if self.validation_scores is not None:
            self.score_ax_ = _score_axes(ax)
            self.lines_["validation_score"] = _curve(
                self.score_ax_, self.validation_scores, validation_score_kw,
                label=f"Validation score ({score_name})", color="C2", linestyle=":")
            self.score_ax_.set_ylabel(score_name)
        self.best_epoch_line_ = None
        if self.best_epoch is not None:
            label = f"Best {self.epoch_name.lower()} ({self.best_epoch}): weights restored"
            style = _validate_style_kwargs({"color": "0.4", "linestyle": "--", "label": label},
                                           best_epoch_kw or {})
            self.best_epoch_line_ = ax.axvline(self.best_epoch, **style)
        ax.set_xlabel(self.epoch_name)
        ax.set_ylabel("Loss")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        drawn = [*self.lines_.values(), self.best_epoch_line_]
        # Above the axes, not on them: no placement inside can be sure to miss the
        # score curve, which lives on the other axes (loc="best" does not see it).
        ax.legend(handles=[artist for artist in drawn if artist is not None],
                  loc="lower left", bbox_to_anchor=(0, 1.02, 1, 0.2), mode="expand",
                  ncol=2, borderaxespad=0, frameon=False)
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, score_name=None, training_loss_kw=None,
                       validation_loss_kw=None, validation_score_kw=None, best_epoch_kw=None):
        """Plot the training curves of a fitted FNNClassifier or FNNRegressor.

        The curves are the estimator's ``loss_curve_``, ``validation_loss_curve_``
        and ``validation_scores_`` (one entry per epoch; per iteration for
        ``solver="lbfgs"``). The validation curves exist when the fit had
        validation data (``early_stopping=True``, or ``X_val`` / ``y_val``
        given to ``fit``). With early stopping (the stochastic solvers), the epoch
        whose weights were restored, the first maximum of
        ``validation_scores_``, is marked. With ``scoring="loss"`` the score is
        the negated validation loss, which is drawn already, so no score axis
        is added.

        Parameters
        ----------
        estimator : FNNClassifier, FNNRegressor or Pipeline
            The fitted estimator, or a fitted Pipeline whose last step is one.
        ax : matplotlib Axes, default=None
            Axes to draw the losses on; None creates a new figure and axes.
        score_name : str, default=None
            The score axis label; None names the estimator's ``scoring``
            (``"Accuracy"`` or ``"R²"`` for ``scoring=None``).
        training_loss_kw, validation_loss_kw, validation_score_kw : dict, default=None
            Keyword arguments for matplotlib's ``plot`` drawing each curve.
        best_epoch_kw : dict, default=None
            Keyword arguments for matplotlib's ``axvline`` marking the best epoch.

        Returns
        -------
        display : TrainingCurveDisplay
            The display, plotted.

        Raises
        ------
        ValueError
            If ``estimator`` is not an FNN estimator (or a Pipeline ending in
            one), or if its validation curves do not cover every epoch of
            ``loss_curve_`` (warm-started fits or ``partial_fit`` calls that
            mixed training with and without validation data).
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from sklearn.datasets import load_iris
        >>> from skfnn import FNNClassifier
        >>> from skfnn.plotting import TrainingCurveDisplay
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = FNNClassifier((8,), early_stopping=True, learning_rate_init=0.01,
        ...                     max_iter=300, random_state=0).fit(X, y)
        >>> display = TrainingCurveDisplay.from_estimator(clf)
        >>> list(display.lines_["training_loss"].get_ydata()) == clf.loss_curve_
        True
        >>> display.score_ax_.get_ylabel()
        'Accuracy'
        >>> plt.close("all")
        """
        _check_matplotlib(f"{cls.__name__}.from_estimator")
        fnn = _fitted_fnn(estimator)
        validation_loss, validation_scores = _validation_curves(fnn)
        display = cls(
            loss_curve=np.asarray(fnn.loss_curve_, dtype=float),
            validation_loss_curve=validation_loss,
            validation_scores=None if fnn.scoring == "loss" else validation_scores,
            best_epoch=_restored_epoch(fnn, validation_scores),
            score_name=_score_name(fnn) if score_name is None else score_name,
            epoch_name="Epoch" if fnn.solver in _STOCHASTIC_SOLVERS else "Iteration",
        )
        return display.plot(ax=ax, training_loss_kw=training_loss_kw,
                            validation_loss_kw=validation_loss_kw,
                            validation_score_kw=validation_score_kw,
                            best_epoch_kw=best_epoch_kw)


def _curve(ax, values, user_kw, **default_kw):
    """Draw ``values`` at epochs 1..n on ``ax`` (None: nothing), user styles over ours."""
    if values is None:
        return None
    values = np.asarray(values, dtype=float)
    (line,) = ax.plot(np.arange(1, len(values) + 1), values,
                      **_validate_style_kwargs(default_kw, user_kw or {}))
    return line


def _score_axes(ax):
    """A second y axis sharing ``ax``'s epochs, drawn under ``ax`` so the legend stays on top."""
    score_ax = ax.twinx()
    ax.set_zorder(score_ax.get_zorder() + 1)
    ax.patch.set_visible(False)  # else ax's background would hide the score curve
    return score_ax


def _fitted_fnn(estimator):
    """The fitted FNN estimator ``estimator`` is or that its Pipeline ends in."""
    fnn = estimator
    while isinstance(fnn, Pipeline):
        fnn = fnn[-1]
    if not isinstance(fnn, (FNNClassifier, FNNRegressor)):
        inside = "" if fnn is estimator else f" ending in {type(fnn).__name__}"
        raise ValueError(
            f"TrainingCurveDisplay.from_estimator needs a fitted FNNClassifier or "
            f"FNNRegressor, or a Pipeline ending in one; got {type(estimator).__name__}"
            f"{inside}, which records no skfnn training curves.")
    check_is_fitted(fnn)
    return fnn


def _validation_curves(fnn):
    """(validation_loss_curve_, validation_scores_) as arrays, or (None, None) without them.

    A validation curve whose length differs from loss_curve_'s cannot be placed
    on the epochs: some warm-started fit or partial_fit trained without
    validation data, and which epochs the curve belongs to is not recorded.
    """
    losses, scores = fnn.validation_loss_curve_, fnn.validation_scores_
    if not losses:  # None, or lbfgs with early_stopping=True and no X_val: []
        return None, None
    n_epochs = len(fnn.loss_curve_)
    if not len(losses) == len(scores) == n_epochs:
        raise ValueError(
            f"The validation curves of this {type(fnn).__name__} have {len(losses)} "
            f"entries but loss_curve_ has {n_epochs}: a warm-started fit or partial_fit "
            f"trained some epochs without validation data, so which epochs the validation "
            f"curves belong to is unknown. Refit with warm_start=False, or build "
            f"TrainingCurveDisplay(loss_curve=..., validation_loss_curve=...) from curves "
            f"of equal length.")
    return np.asarray(losses, dtype=float), np.asarray(scores, dtype=float)


def _restored_epoch(fnn, scores):
    """The 1-based epoch early stopping restored: the first maximum of the scores, or None.

    EarlyStopping keeps the weights of an epoch only when its score beats the
    best so far strictly, so the first maximum is kept; a NaN score never is.
    L-BFGS does not stop early, so it restores nothing.
    """
    if not (fnn.early_stopping and fnn.solver in _STOCHASTIC_SOLVERS) or scores is None:
        return None
    if np.isnan(scores).all():  # no epoch beat the initial weights
        return None
    return int(np.nanargmax(scores)) + 1


def _score_name(fnn):
    """A readable name of the estimator's ``scoring``, in scikit-learn's display style."""
    scoring = fnn.scoring
    if scoring is None:
        return "Accuracy" if is_classifier(fnn) else "R²"
    if isinstance(scoring, str):
        name, sign = scoring, 1
    else:  # a scorer from make_scorer carries its metric and sign; a function its name
        name = getattr(getattr(scoring, "_score_func", scoring), "__name__", "")
        sign = getattr(scoring, "_sign", 1)
    if not name.isidentifier():  # a lambda, a partial, ...
        return "Score"
    if name.startswith("neg_"):
        name, sign = name[4:], -1
    name = name.replace("_", " ")
    return f"Negative {name}" if sign < 0 else name.capitalize()


class LearningRateFinderDisplay:
    """The loss against the learning rate of a range test, and the suggested rate.

    :func:`skfnn.lr_finder` returns one (not yet drawn);
    :meth:`LearningRateFinderDisplay.from_estimator` runs the test and draws
    it. All parameters are stored as attributes.

    Parameters
    ----------
    learning_rates : array-like of shape (n_steps,)
        The rates tried, increasing.
    losses : array-like of shape (n_steps,)
        The smoothed loss at each rate (drawn as the curve).
    suggestion : float or None, default=None
        The suggested rate, marked on the curve; None marks nothing.
    raw_losses : array-like of shape (n_steps,), default=None
        The minibatch losses before smoothing, drawn faintly; None draws none.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    line_ : matplotlib Line2D
        The smoothed loss.
    raw_line_ : matplotlib Line2D or None
        The raw losses, or None.
    suggestion_marker_ : matplotlib Line2D or None
        The marker at the suggested rate, or None.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from skfnn.plotting import LearningRateFinderDisplay
    >>> display = LearningRateFinderDisplay(learning_rates=[1e-3, 1e-2, 1e-1, 1.0],
    ...                                     losses=[1.0, 0.8, 0.3, 2.0],
    ...                                     suggestion=1e-2).plot()
    >>> display.suggestion_marker_.get_xydata().tolist()
    [[0.01, 0.8]]
    >>> display.ax_.get_xscale()
    'log'
    >>> plt.close("all")
    """

    def __init__(self, *, learning_rates, losses, suggestion=None, raw_losses=None):
        self.learning_rates = learning_rates
        self.losses = losses
        self.suggestion = suggestion
        self.raw_losses = raw_losses

    def plot(self, ax=None, *, loss_kw=None, raw_loss_kw=None, suggestion_kw=None):
        """Plot the loss against the rate (log scale), with the suggestion marked.

        The y axis spans the smoothed curve (and the raw losses below it); raw
        spikes above it are cut off (``ax.set_ylim`` changes that).

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            None creates a new figure and axes.
        loss_kw, raw_loss_kw : dict, default=None
            Keyword arguments for matplotlib's ``plot`` drawing the smoothed and
            the raw losses, over skfnn's defaults.
        suggestion_kw : dict, default=None
            Keyword arguments for the ``plot`` call drawing the suggestion's marker.

        Returns
        -------
        display : LearningRateFinderDisplay
            This object, with the matplotlib artists stored.
        """
        _check_matplotlib(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        rates = np.asarray(self.learning_rates, dtype=float)
        losses = np.asarray(self.losses, dtype=float)
        self.raw_line_ = None
        if self.raw_losses is not None:
            style = _validate_style_kwargs({"color": "C0", "alpha": 0.3, "linewidth": 0.8,
                                            "label": "Minibatch loss"}, raw_loss_kw or {})
            (self.raw_line_,) = ax.plot(rates, np.asarray(self.raw_losses, dtype=float),
                                        **style)
        style = _validate_style_kwargs({"color": "C0", "label": "Smoothed loss"},
                                       loss_kw or {})
        (self.line_,) = ax.plot(rates, losses, **style)
        self.suggestion_marker_ = None
        if self.suggestion is not None:
            at = np.interp(np.log(self.suggestion), np.log(rates), losses)
            style = _validate_style_kwargs(
                {"marker": "o", "color": "C3", "linestyle": "none",
                 "label": f"Suggested rate: {self.suggestion:.2g}"}, suggestion_kw or {})
            (self.suggestion_marker_,) = ax.plot([self.suggestion], [at], **style)
        ax.set_xscale("log")
        _focus_on(ax, losses, self.raw_losses)
        ax.set_xlabel("Learning rate")
        ax.set_ylabel("Loss")
        ax.legend()
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, X, y, *, ax=None, loss_kw=None, raw_loss_kw=None,
                       suggestion_kw=None, **finder_kw):
        """Run :func:`skfnn.lr_finder` on a clone of ``estimator`` and plot the result.

        Parameters
        ----------
        estimator : FNNClassifier or FNNRegressor
            With a stochastic solver; not modified.
        X, y
            The training data.
        ax, loss_kw, raw_loss_kw, suggestion_kw
            As :meth:`plot`.
        **finder_kw
            :func:`skfnn.lr_finder`'s keyword arguments (``start``, ``end``,
            ``num``, ``smoothing``, ``diverge``, ``sample_weight``).

        Returns
        -------
        display : LearningRateFinderDisplay
            The display, plotted.
        """
        _check_matplotlib(f"{cls.__name__}.from_estimator")
        display = lr_finder(estimator, X, y, **finder_kw)
        return display.plot(ax=ax, loss_kw=loss_kw, raw_loss_kw=raw_loss_kw,
                            suggestion_kw=suggestion_kw)


def lr_finder(estimator, X, y, *, sample_weight=None, start=1e-7, end=10.0, num=100,
              smoothing=0.9, diverge=4.0):
    """Leslie Smith's learning-rate range test on a clone of ``estimator``.

    Starting from the clone's initial weights, takes one minibatch step (the
    estimator's solver, batch size, shuffling, dropout and ``clip_norm``) at
    each of ``num`` rates η_i = start · (end / start)^(i / (num − 1)), and
    records the loss. The loss of step i is the minibatch loss before that
    step, at the weights the rates η_0 ... η_{i−1} reached, smoothed as
    L̄_i = a_i / (1 − β^(i+1)) with a_i = β a_{i−1} + (1 − β) J_i (β is
    ``smoothing``, a_{−1} = 0). The test stops early when L̄_i exceeds
    ``diverge`` times the lowest L̄ so far, or is not finite.

    The suggested rate is where the smoothed loss falls fastest: the rate of
    the most negative slope dL̄ / d(log η) (numpy's ``gradient``), leaving out
    the first 10 points and the last (:func:`suggest_rate`), as PyTorch
    Lightning's tuner suggests. It lies inside the range where training
    makes progress, whereas the rate of the lowest loss sits at the edge of
    divergence (and the moving average's lag pushes it further); the
    rule of thumb "the minimum divided by 10" is
    ``learning_rates[argmin(losses)] / 10`` on the result.

    Parameters
    ----------
    estimator : FNNClassifier or FNNRegressor
        With a stochastic solver ("sgd", "adam", "adamw" or "rmsprop"); not
        modified (fitted or not, it is cloned: the test starts from the
        initial weights its parameters and ``random_state`` give).
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    sample_weight : array-like of shape (n_samples,), default=None
    start, end : float, default=1e-7, 10.0
        The first and the last rate, 0 < start < end.
    num : int, default=100
        The number of rates, hence of steps (≥ 2); epochs repeat as needed.
    smoothing : float, default=0.9
        β of the moving average, in [0, 1); 0 records the raw losses. The
        average spans about 1 / (1 − β) steps and lags as much behind the
        rates: fastai's and Lightning's β = 0.98 averages 50 of the 100
        default steps, four decades of rates, and shifts the curve and the
        suggestion toward larger rates (adam on the digits: 0.24, where
        β = 0.9 suggests 0.038 and the raw losses are lowest near 0.3).
    diverge : float or None, default=4.0
        Stop once the smoothed loss exceeds this many times its minimum so
        far (> 1); None runs every rate (stopping only at a non-finite loss).

    Returns
    -------
    display : LearningRateFinderDisplay
        ``learning_rates``, ``losses`` (smoothed), ``raw_losses`` and
        ``suggestion``; call ``.plot()`` to draw it (matplotlib).

    Raises
    ------
    ValueError
        For ``solver="lbfgs"`` (no learning rate), bad arguments, or a loss
        that is not finite at the initial weights.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import scale
    >>> from skfnn import FNNClassifier, lr_finder
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = FNNClassifier((16,), batch_size=16, random_state=0)
    >>> result = lr_finder(clf, scale(X), y, start=1e-5, end=10, num=60)
    >>> len(result.learning_rates) == len(result.losses) <= 60
    True
    >>> bool(1e-5 < result.suggestion < 10)
    True
    >>> hasattr(clf, "coefs_")  # the estimator itself is untouched
    False
    """
    rates, losses, raw_losses, suggestion = range_test(
        estimator, X, y, sample_weight=sample_weight, start=start, end=end, num=num,
        smoothing=smoothing, diverge=diverge)
    return LearningRateFinderDisplay(learning_rates=rates, losses=losses,
                                     raw_losses=raw_losses, suggestion=suggestion)


def _focus_on(ax, losses, raw_losses):
    """y limits that show the smoothed curve whole: the raw losses' spikes near
    divergence (often 10 times larger) would flatten it, so they are cut off."""
    values = [np.asarray(losses, dtype=float)]
    if raw_losses is not None:
        values.append(np.asarray(raw_losses, dtype=float))
    low = min(float(np.nanmin(v[np.isfinite(v)], initial=np.inf)) for v in values)
    smoothed = values[0][np.isfinite(values[0])]
    if smoothed.size and np.isfinite(low):
        high = float(smoothed.max())
        margin = 0.05 * (high - low) or 0.05 * abs(high) or 0.05
        ax.set_ylim(low - margin, high + margin)

"""FNNRegressor: a feed-forward network for regression."""

from numbers import Real

from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils import check_array
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import column_or_1d

from . import _docstrings
from ._array_api import array_namespace, follow
from ._base import BaseFNN, transactional
from ._sklearn_compat import Interval, _fit_context, with_callbacks
from ._transform import HiddenFeaturesMixin
from .activations import Softmax
from .losses import QuantileLoss
from .losses import optional as loss_optional

__all__ = ["FNNRegressor"]


class FNNRegressor(RegressorMixin, HiddenFeaturesMixin, BaseFNN):
    __doc__ = (
        """Feed-forward neural network regressor on skfnn's δ-backprop engine.

    A drop-in replacement for scikit-learn's ``MLPRegressor``: the same
    parameters with the same defaults and meaning, the same fitted attributes,
    plus pluggable activations (per layer too), losses and output activation.
"""
        + _docstrings.PARAMETERS
        + """    loss : str or Loss, default="squared_error"
        "squared_error" (½‖a − y‖², summed over outputs), "poisson",
        "absolute_error", "huber", "gamma", "tweedie" (power 1.5; other
        powers: :class:`~skfnn.losses.TweedieLoss`), "gaussian_nll" (a
        mean–variance head: ``predict(X, return_std=True)``), "quantile" (the
        pinball loss of ``quantile``), or a :class:`~skfnn.losses.Loss` object.
        See docs/uncertainty.md.
    out_activation : "auto", str or Activation, default="auto"
        The output activation; "auto" takes the loss's canonical link
        (identity, or exp for poisson, gamma and tweedie).
    quantile : float or list of float, default=None
        With ``loss="quantile"``: the quantile(s) τ in (0, 1) to predict, one
        output column per quantile (None: the median, 0.5). Several targets
        give quantile-major columns: column q·n_targets + k is quantile
        ``quantile[q]`` of target k. Setting it with any other loss is an
        error (scikit-learn's HistGradientBoostingRegressor ignores it).
"""
        + _docstrings.ATTRIBUTES
        + """
    Notes
    -----
    ``n_outputs_`` is the width of the output layer, as in scikit-learn: the
    number of targets times the loss's ``outputs_per_target`` (2 for
    "gaussian_nll", the number of quantiles for "quantile"). ``predict`` maps
    the outputs back to the targets' view, and ``score`` is the R² of the
    point prediction: the mean (the predicted mean for "gaussian_nll"), or
    for "quantile" the quantile nearest 0.5 (the median, if it is one).

    See Also
    --------
    FNNClassifier : The classifier.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from skfnn import FNNRegressor
    >>> X, y = make_regression(n_samples=200, n_features=5, noise=1, random_state=0)
    >>> reg = FNNRegressor((20,), solver="lbfgs", max_iter=500, random_state=0).fit(X, y)
    >>> reg.predict(X[:2]).shape
    (2,)
    >>> round(reg.score(X, y), 2)
    1.0
    """
    )

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 loss="squared_error", out_activation="auto", scoring=None, dropout=0.0,
                 init="glorot_uniform", weight_decay=0.01, rho=0.9, warmup_epochs=0,
                 clip_norm=None, quantile=None):
        self._store_params(locals())

    _parameter_constraints: dict = {
        **BaseFNN._parameter_constraints,
        "quantile": [Interval(Real, 0, 1, closed="neither"), "array-like", None],
    }

    def _get_loss(self):
        if isinstance(self.loss, str) and self.loss == "quantile":
            return QuantileLoss(0.5 if self.quantile is None else self.quantile)
        if self.quantile is not None:
            raise ValueError(f"quantile={self.quantile!r} is only used by loss='quantile', "
                             f"but loss={self.loss!r}: set loss='quantile', or leave "
                             "quantile=None.")
        return super()._get_loss()

    def _validate_input(self, X, y, incremental, reset, classes=None):
        X, y = self._check_Xy(X, follow(X, y), reset, y_numeric=True)
        return X, y, y

    def _encode_validation_target(self, y, X):
        y = check_array(follow(X, y), ensure_2d=False, dtype="numeric", input_name="y_val")
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return y, y

    def _check_output(self, loss, out):
        if isinstance(out, Softmax):
            raise ValueError("out_activation='softmax' is only for multiclass classifiers.")

    def _score_outputs(self, output, y, sample_weight):
        return r2_score(y, self._point(output), sample_weight=sample_weight)

    def _point(self, output):
        """The point prediction that ``score`` scores, from the network's output."""
        point = loss_optional(self._net.loss, "point_prediction")
        return self._decode(output if point is None else point(output))

    def _decode(self, output):
        return array_namespace(output).reshape(output, (-1,)) if output.shape[1] == 1 else output

    def predict(self, X, return_std=False):
        """Predict with the network.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        return_std : bool, default=False
            Also return the predicted standard deviation of each target, as
            ``GaussianProcessRegressor.predict`` does; only for a loss that
            predicts a distribution (``loss="gaussian_nll"``).

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_targets)
            The output activations A^L in the targets' view: for
            "gaussian_nll" the means; for "quantile" one column per quantile
            (quantile-major for several targets), shape (n_samples,) for a
            single quantile of a single target.
        std : ndarray of shape (n_samples,) or (n_samples, n_targets)
            The predicted standard deviations (with ``return_std=True``).
        """
        output = self._forward_output(X, "predict")
        loss = self._net.loss
        view = loss_optional(loss, "predict")
        y = self._decode(output if view is None else view(output))
        if not return_std:
            return y
        std = loss_optional(loss, "predict_std")
        if std is None:
            raise ValueError(f"return_std=True needs a loss that predicts a distribution "
                             f"(loss='gaussian_nll'); this model was fitted with "
                             f"loss={self.loss!r}, which predicts a point.")
        return y, self._decode(std(output))

    def score(self, X, y, sample_weight=None):
        """R² of the point prediction: the mean, or the quantile nearest 0.5.

        For ``loss="gaussian_nll"`` the R² of the predicted mean; for
        ``loss="quantile"`` that of the quantile nearest 0.5 (the median if it
        is one of them); otherwise that of ``predict(X)``, as scikit-learn's
        regressors score.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        return self._score_outputs(self._forward_output(X, "score"), y, sample_weight)

    @available_if(lambda est: est._check_solver())
    @transactional
    @with_callbacks
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with one epoch over (X, y).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        return self._fit(X, y, sample_weight, incremental=True)

"""FNNRegressor: a feed-forward network for regression."""

from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils import check_array
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import column_or_1d

from . import _docstrings
from ._array_api import array_namespace, follow
from ._base import BaseFNN, transactional
from ._transform import HiddenFeaturesMixin
from ._sklearn_compat import _fit_context, with_callbacks
from .activations import Softmax

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
        "absolute_error", "huber", or a :class:`~skfnn.losses.Loss` object.
    out_activation : "auto", str or Activation, default="auto"
        The output activation; "auto" takes the loss's canonical link
        (identity, or exp for poisson).
"""
        + _docstrings.ATTRIBUTES
        + """
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
                 clip_norm=None):
        self._store_params(locals())

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
        return r2_score(y, self._decode(output), sample_weight=sample_weight)

    def _decode(self, output):
        return array_namespace(output).reshape(output, (-1,)) if output.shape[1] == 1 else output

    def predict(self, X):
        """Predict with the network.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The output activations A^L.
        """
        return self._decode(self._forward_output(X, "predict"))

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

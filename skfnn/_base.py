"""The base estimator: parameters, fit / partial_fit orchestration, prediction.

:class:`BaseFNN` owns what the regressor and the classifier share as
estimators: the parameters and their constraints, ``fit`` (and the subclasses'
``partial_fit``) as transactions, and the forward pass of prediction. The work
is done below it:

- :mod:`skfnn._problem` validates the data and the parameters and builds the
  network being trained;
- :mod:`skfnn._model` owns the fitted state (θ and its ``coefs_`` /
  ``intercepts_`` views, the curves, the rollback);
- :mod:`skfnn._fitting` runs one fit: the model's start, the optimizer, the
  hooks and the training loop; :mod:`skfnn._dask` the same on a Dask cluster.

The subclasses only encode targets (``_validate_input``,
``_encode_validation_target``, ``_class_weigher``), choose and check the
output (``_default_out_activation``, ``_check_output``) and decode predictions
(``_score_outputs`` and the public predict methods).

Under scikit-learn's ``array_api_dispatch``, a fit runs in the namespace and on
the device of X (:func:`skfnn._array_api.fit_namespace`): X, the encoded
targets, the weights and θ live there, and so do ``coefs_`` / ``intercepts_``;
y and sample_weight from another namespace or device are moved to X's.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, column_or_1d

from . import _array_api, _dask, _engine, _fitting, _model
from ._model import transactional
from ._network import INITIALIZERS
from ._problem import STOCHASTIC_SOLVERS, x_rules
from ._sklearn_compat import (
    CallbackSupportMixin,
    HasMethods,
    Interval,
    Options,
    StrOptions,
    _fit_context,
    check_same_namespace,
    validate_data,
    with_callbacks,
)
from ._state import dump_state, load_state
from ._threads import blas_threads_for
from .losses import get_loss
from .losses import optional as loss_optional
from .schedules import SCHEDULES

__all__ = ["BaseFNN", "transactional"]


class BaseFNN(CallbackSupportMixin, BaseEstimator):
    """Shared implementation of :class:`FNNRegressor` and :class:`FNNClassifier`."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [str, "array-like", HasMethods(["forward", "derivative"])],
        "solver": [StrOptions({"lbfgs", *STOCHASTIC_SOLVERS})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions(set(SCHEDULES)), HasMethods(["epoch_rate"])],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "loss": [str, HasMethods(["__call__", "gradient", "delta"])],
        "out_activation": [str, HasMethods(["forward", "derivative"])],
        "scoring": [StrOptions({"loss"}), str, callable, None],
        "dropout": [Interval(Real, 0, 1, closed="left"), "array-like"],
        "init": [StrOptions({"glorot_uniform", *INITIALIZERS}), callable],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "rho": [Interval(Real, 0, 1, closed="left")],
        "warmup_epochs": [Interval(Integral, 0, None, closed="left")],
        "clip_norm": [Interval(Real, 0, None, closed="neither"), None],
    }

    def _store_params(self, arguments):
        """Store the constructor's arguments unchanged: all a subclass's __init__ does.

        scikit-learn allows nothing but this in ``__init__``; the subclasses
        spell out their signatures (which ``get_params`` reads) and call this
        with ``locals()``, so the assignments are written once.
        """
        for name in self._get_param_names():
            setattr(self, name, arguments[name])

    # ------------------------------------------------------------------
    # Fitting
    # ------------------------------------------------------------------
    @transactional
    @with_callbacks
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None, sample_weight_val=None):
        """Fit the network to data X and targets y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data. float32 input trains in float32.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights s_i ≥ 0; the loss is Σ s_i ℓ_i / Σ s_i.
        X_val : {array-like, sparse matrix} of shape (n_val, n_features), default=None
            Validation data, scored after each epoch (L-BFGS iteration):
            ``validation_scores_`` and ``validation_loss_curve_`` record it.
            With ``early_stopping=True`` it replaces the internal split
            (``validation_fraction`` is then unused). Route it through
            meta-estimators with ``set_fit_request(X_val=True, y_val=True)``.
        y_val : array-like of shape (n_val,) or (n_val, n_outputs), default=None
            Its targets (a classifier's classes must be among y's).
        sample_weight_val : array-like of shape (n_val,), default=None
            Weights of the validation samples (a classifier's ``class_weight``
            applies to them too).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, validation=(X_val, y_val, sample_weight_val))

    def _fit(self, X, y, sample_weight=None, incremental=False, classes=None,
             validation=None):
        if _dask.is_dask_collection(X):  # the rows live on a cluster: skfnn/_dask.py
            return _dask.fit(self, X, y, sample_weight, incremental, validation)
        return _fitting.fit(self, X, y, sample_weight, incremental=incremental,
                            classes=classes, validation=validation)

    def _check_solver(self):
        if self.solver not in STOCHASTIC_SOLVERS:
            raise AttributeError(
                "partial_fit is only available for stochastic optimizers. "
                f"{self.solver} is not stochastic."
            )
        return True

    # ------------------------------------------------------------------
    # Persistence: the fitted state as plain data
    # ------------------------------------------------------------------
    def __getstate__(self):
        return dump_state(self, super().__getstate__())

    def __setstate__(self, state):
        super().__setstate__(load_state(self, state))

    def __sklearn_array_api_convert__(self, converter):
        """A copy of this estimator with its arrays converted (``move_estimator_to``)."""
        return _model.converted(self, converter)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        # scikit-learn < 1.9 lacks the helpers skfnn's array API path needs (a fit on
        # another library's arrays says so there): numpy only.
        tags.array_api_support = _array_api.HAS_ARRAY_API
        return tags

    # ------------------------------------------------------------------
    # Prediction
    # ------------------------------------------------------------------
    def _check_X(self, X, method):
        """X validated for prediction by ``method``, in the namespace and on the device of fit."""
        check_is_fitted(self)
        _model.check_coefs(self)
        check_same_namespace(X, self, attribute="_theta", method=method)
        X = validate_data(self, X, reset=False, **x_rules(X))
        _model.check_same_place(self, X, method)
        return X

    def _check_Xy(self, X, y, reset, **rules):
        """Validate training data; y with one column becomes 1-D (with a warning)."""
        X, y = validate_data(self, X, y, multi_output=True, reset=reset, **x_rules(X),
                             **rules)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _forward_logits(self, X, method):
        """Z^L for X (validated for ``method``)."""
        X, Ws, bs = _model.promoted(self, self._check_X(X, method))
        with blas_threads_for(X.shape[0], self._net.layer_units):
            return _model.finite(_engine.logits(self._net, X, Ws, bs))

    def _forward_output(self, X, method=None):
        """A^L for X, validated for ``method`` and checked finite. Small products run on
        one BLAS thread, as a fit's (``_threads``)."""
        X, Ws, bs = _model.promoted(self, self._check_X(X, method))
        with blas_threads_for(X.shape[0], self._net.layer_units):
            return _model.finite(_engine.predict(self._net, X, Ws, bs))

    # ------------------------------------------------------------------
    # Subclass interface
    # ------------------------------------------------------------------
    def _get_loss(self):
        """The loss object of the ``loss`` parameter (a subclass may add its own parameters)."""
        return get_loss(self.loss)

    def _default_out_activation(self, loss):
        return loss_optional(loss, "default_out_activation")

    def _check_output(self, loss, out):
        """Subclass hook: reject output activations the task cannot use."""

    def _class_weigher(self, labels, Y, sample_weight, incremental):
        """Subclass hook: ``weigh(labels, Y)``, each sample's class weight, or None."""
        return None

    def _stratify_split(self):
        """Subclass hook: whether early stopping's split is stratified by the targets."""
        return False

    def _decode_target(self, Y):
        """Subclass hook: the targets as scorers take them, from the encoded Y."""
        return Y

    def _validate_input(self, X, y, incremental, reset, classes=None):  # pragma: no cover
        """Return (X, Y, labels): validated X, encoded targets, targets as scorers take them."""
        raise NotImplementedError

    def _encode_validation_target(self, y, X_val):  # pragma: no cover - abstract
        """Return (Y_val, labels) for y_val, validated against the training targets."""
        raise NotImplementedError

    def _score_outputs(self, output, y, sample_weight):  # pragma: no cover - abstract
        raise NotImplementedError

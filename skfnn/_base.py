"""The base estimator: parameters, validation, fit / partial_fit and training loops.

:class:`BaseFNN` owns everything the regressor and the classifier share;
the subclasses only encode targets (``_validate_input``), choose the default
loss and output activation, and decode predictions.
"""

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.optimize
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, gen_batches, shuffle
from sklearn.utils._param_validation import HasMethods, Interval, Options, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from . import _dask, _engine
from .activations import Activation, Softmax, get_activation
from .losses import BinaryLogLoss, LogLoss, get_loss
from ._threads import blas_threads_for
from .optimizers import SGD, Adam

_STOCHASTIC_SOLVERS = ("sgd", "adam")
# Sparse X is accepted; float32 stays float32, anything else becomes float64.
_X_RULES = dict(accept_sparse=["csr", "csc"], dtype=(np.float64, np.float32))


class BaseFNN(BaseEstimator):
    """Shared implementation of :class:`FNNRegressor` and :class:`FNNClassifier`."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [str, "array-like", HasMethods(["forward", "derivative"])],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
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
    # Architecture: layer sizes, activations, loss
    # ------------------------------------------------------------------
    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if not all(isinstance(n, Integral) and n > 0 for n in sizes):
            raise ValueError(
                f"hidden_layer_sizes must contain positive integers only, got {sizes}."
            )
        return [int(n) for n in sizes]

    def _hidden_activations(self, n_hidden):
        spec = self.activation
        if isinstance(spec, str) or not hasattr(spec, "__iter__"):
            spec = [spec] * n_hidden
        elif len(spec) != n_hidden:
            raise ValueError(
                f"activation has {len(spec)} entries but there are {n_hidden} hidden "
                "layers; give one activation per hidden layer, or a single one."
            )
        sigmas = [get_activation(s, "activation") for s in spec]
        if any(not getattr(s, "elementwise", True) for s in sigmas):
            raise ValueError(
                "softmax is not elementwise and can only be the output activation "
                "(out_activation) of a multiclass classifier."
            )
        return sigmas

    def _init_factors(self, hidden):
        # As scikit-learn: each layer is initialised for the hidden activation,
        # the output layer for the last hidden one.
        if hidden:
            return [s.init_factor for s in hidden] + [hidden[-1].init_factor]
        single = self.activation if isinstance(self.activation, (str, Activation)) else "relu"
        return [get_activation(single).init_factor]

    def _resolve_output(self, Y):
        """Return (loss, output activation) for this task, validated."""
        loss = get_loss(self.loss)
        if self.out_activation == "auto":
            out = get_activation(self._default_out_activation(loss), "out_activation")
        else:
            out = get_activation(self.out_activation, "out_activation")
        if isinstance(loss, LogLoss) and not isinstance(out, Softmax):
            # With an elementwise output each unit is its own Bernoulli variable.
            loss = BinaryLogLoss()
        if isinstance(out, Softmax) and not isinstance(loss, LogLoss):
            raise ValueError(
                f"out_activation='softmax' can only be paired with loss='log_loss' "
                f"(got loss={self.loss!r})."
            )
        self._check_output(loss, out)
        loss.check_target(Y)
        return loss, out

    def _default_out_activation(self, loss):
        return loss.default_out_activation

    def _check_output(self, loss, out):
        """Subclass hook: reject output activations the task cannot use."""

    # ------------------------------------------------------------------
    # Fitting
    # ------------------------------------------------------------------
    def _prepare(self, X, y, sample_weight, incremental):
        """Validate the data and (re)build the network; return what the solvers need.

        Initialises the weights on a fresh fit; otherwise checks that the
        architecture is unchanged. Returns ``(X, Y, sample_weight, theta, loss,
        random_state)`` with Y 2-D (bool for a classifier: cast to θ's dtype where used).
        """
        hidden_sizes = self._hidden_sizes()
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, Y = self._validate_input(X, y, incremental, reset=first_pass)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        if Y.ndim == 1:
            Y = Y.reshape(-1, 1)
        hidden = self._hidden_activations(len(hidden_sizes))
        loss, out = self._resolve_output(Y)
        layer_units = [X.shape[1], *hidden_sizes, Y.shape[1]]
        random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(layer_units, hidden, out, random_state, X.dtype)
        else:
            self._check_architecture(layer_units, hidden + [out])
        theta = self._theta_from_coefs()
        return X, Y, sample_weight, theta, loss, random_state

    def _fit(self, X, y, sample_weight=None, incremental=False):
        if _dask.is_dask_collection(X):  # the rows live on a cluster: skfnn/_dask.py
            return _dask.fit(self, X, y, sample_weight, incremental)
        X, Y, sample_weight, theta, loss, random_state = self._prepare(
            X, y, sample_weight, incremental)
        stochastic = self.solver in _STOCHASTIC_SOLVERS
        n_rows = self._batch_size(X.shape[0], warn=False) if stochastic else X.shape[0]
        with blas_threads_for(n_rows, self._layout.layer_units):
            if stochastic:
                self._fit_stochastic(X, Y, sample_weight, theta, self._sigmas, loss,
                                     random_state, incremental)
            else:
                self._fit_lbfgs(X, Y, sample_weight, theta, self._sigmas, loss)
        self._raise_if_diverged(X)
        return self

    def _raise_if_diverged(self, X):
        """Raise ValueError if training diverged: non-finite weights, loss or outputs.

        Finite weights can still be so large that the outputs overflow, so the
        final network is also run on the first rows of the training data (a
        minibatch's worth: cheap). With early stopping the restored best weights
        are judged, not the last epoch's loss.
        """
        finite = (np.isfinite(self._theta).all()
                  and (self.early_stopping or np.isfinite(getattr(self, "loss_", 0.0)))
                  and np.isfinite(self._forward_output(X[:256], check_input=False)).all())
        if not finite:
            raise ValueError(
                "Solver produced non-finite parameter weights or outputs (the loss "
                "diverged). The input data may contain large values and need to be "
                "preprocessed, or learning_rate_init may be too large."
            )

    def _initialize(self, layer_units, hidden, out, random_state, dtype):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = layer_units[-1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = out.name if isinstance(out, Activation) else out
        self._sigmas = hidden + [out]
        self._layout = _engine.Layout(layer_units)
        theta = _engine.init_params(self._layout, self._init_factors(hidden), random_state, dtype)
        self._set_coefs(theta)
        self.loss_curve_ = []
        self._best_theta = theta.copy()
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _check_architecture(self, layer_units, sigmas):
        if tuple(layer_units) != self._layout.layer_units:
            raise ValueError(
                f"The network was fitted with layer sizes {list(self._layout.layer_units)} "
                f"but this call needs {layer_units}: hidden_layer_sizes, the number of "
                "features or the number of outputs changed. Continuing training "
                "(warm_start=True or partial_fit) needs the same architecture; call fit "
                "with warm_start=False to start afresh."
            )
        if list(sigmas) != list(self._sigmas):
            raise ValueError(
                f"The network was fitted with activations {self._sigmas} but the "
                f"parameters now give {sigmas}. Continuing training (warm_start=True "
                "or partial_fit) needs the same activations."
            )

    def _set_coefs(self, theta):
        """Expose θ as ``coefs_`` / ``intercepts_`` (views, so they stay current)."""
        self._theta = theta
        Ws, bs = self._layout.unpack(theta)
        self.coefs_, self.intercepts_ = Ws, bs

    def _theta_from_coefs(self):
        """Return θ, re-packed if the user replaced or re-shaped coefs_ / intercepts_.

        ``coefs_`` and ``intercepts_`` are the model; θ is only a cache of them.
        While they are θ's own views, training updates them in place; arrays the
        user assigned there are packed into a new θ first.
        """
        theta = self._theta
        expected = self._check_coefs()
        params = [*self.coefs_, *self.intercepts_]
        if all(
            isinstance(p, np.ndarray) and p.base is theta and p.ctypes.data == v.ctypes.data
            for p, v in zip(params, expected)
        ):
            return theta
        theta = self._layout.pack(self.coefs_, self.intercepts_,
                                  out=np.empty(theta.size, dtype=np.result_type(*params)))
        self._set_coefs(theta)
        return theta

    def __getstate__(self):
        # θ is a cache of coefs_ / intercepts_, which are pickled anyway.
        state = dict(super().__getstate__())  # a copy: object's is the live __dict__
        state.pop("_theta", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "_layout" in state:
            params = [*self.coefs_, *self.intercepts_]
            theta = np.zeros(self._layout.size, dtype=np.result_type(*params))
            try:
                self._set_coefs(self._layout.pack(self.coefs_, self.intercepts_, out=theta))
            except ValueError:  # coefs_ re-shaped before pickling: _check_coefs reports it
                self._theta = theta

    def _check_coefs(self):
        """Raise ValueError unless coefs_ / intercepts_ fit the architecture; return θ's views."""
        Ws, bs = self._layout.unpack(self._theta)
        expected = Ws + bs
        params = [*self.coefs_, *self.intercepts_]
        if len(self.coefs_) != len(Ws) or len(params) != len(expected) or any(
            np.shape(p) != v.shape for p, v in zip(params, expected)
        ):
            raise ValueError(
                "coefs_ and intercepts_ no longer match the fitted architecture "
                f"{list(self._layout.layer_units)}: expected shapes "
                f"{[v.shape for v in expected]}, got {[np.shape(p) for p in params]}."
            )
        return expected

    def _make_optimizer(self, theta):
        if self.solver == "sgd":
            return SGD(theta.size, theta.dtype, self.learning_rate_init, self.learning_rate,
                       self.momentum, self.nesterovs_momentum, self.power_t)
        return Adam(theta.size, theta.dtype, self.learning_rate_init, self.beta_1,
                    self.beta_2, self.epsilon)

    def _fit_stochastic(self, X, Y, sample_weight, theta, sigmas, loss, random_state,
                        incremental):
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = self._make_optimizer(theta)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        X_train, Y_train, sw_train, validation = self._split(X, Y, sample_weight, random_state)
        n_samples = X_train.shape[0]
        batch_size = self._batch_size(n_samples)
        grad = np.empty_like(theta)
        workspace = _engine.Workspace(self._layout, batch_size, theta.dtype, theta, grad,
                                      sigmas)
        sample_idx = np.arange(n_samples)
        self.n_iter_ = 0
        try:
            for _ in range(self.max_iter):
                if self.shuffle:
                    sample_idx = shuffle(sample_idx, random_state=random_state)
                epoch_loss = self._epoch(X_train, Y_train, sw_train, sample_idx, theta, grad,
                                         workspace, sigmas, loss)
                if self._end_epoch(epoch_loss, n_samples, validation, incremental):
                    break
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")  # keep the model, as scikit-learn
        if self.early_stopping:
            theta[...] = self._best_theta

    def _epoch(self, X, Y, sample_weight, sample_idx, theta, grad, workspace, sigmas, loss):
        """One pass of minibatch steps over the samples; return the mean batch loss.

        The workspace was made for the batch size; a smaller last batch takes its rows.
        """
        n_samples = X.shape[0]
        accumulated_loss = 0.0
        for batch in gen_batches(n_samples, workspace.n_samples):
            n_batch = batch.stop - batch.start
            idx = sample_idx[batch] if self.shuffle else batch
            sw = None if sample_weight is None else sample_weight[idx]
            Y_batch = Y[idx].astype(theta.dtype, copy=False)
            J, _ = _engine.loss_and_gradient(theta, X[idx], Y_batch, self._layout, sigmas,
                                             loss, self.alpha, sw, grad,
                                             workspace.rows(n_batch))
            accumulated_loss += J * n_batch
            self._optimizer.step(theta, grad, workspace.scratch)
        return accumulated_loss / n_samples

    def _end_epoch(self, epoch_loss, n_samples, validation, incremental):
        """Record the epoch and apply the stopping rules; return True to stop."""
        self.n_iter_ += 1
        self.t_ += n_samples
        self.loss_ = epoch_loss
        self.loss_curve_.append(epoch_loss)
        if self.verbose:
            print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
        self._update_no_improvement_count(validation)
        self._optimizer.iteration_ends(self.t_)
        if self._no_improvement_count > self.n_iter_no_change:
            what = "Validation score" if self.early_stopping else "Training loss"
            msg = "%s did not improve more than tol=%f for %d consecutive epochs." % (
                what, self.tol, self.n_iter_no_change)
            if self._optimizer.trigger_stopping(msg, self.verbose):
                return True
            self._no_improvement_count = 0
        if incremental:
            return True
        if not self.early_stopping and not (np.isfinite(epoch_loss)
                                            and np.isfinite(self._theta).all()):
            return True  # diverged: no later epoch can recover; _fit reports it
        if self.n_iter_ == self.max_iter:
            warnings.warn(
                "Stochastic Optimizer: Maximum iterations (%d) reached and the "
                "optimization hasn't converged yet." % self.max_iter,
                ConvergenceWarning,
            )
        return False

    def _update_no_improvement_count(self, validation):
        if self.early_stopping:
            score = self._score(*validation)
            self.validation_scores_.append(score)
            if self.verbose:
                print("Validation score: %f" % score)
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_theta = self._theta.copy()
        else:
            last = self.loss_curve_[-1]
            if last > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if last < self.best_loss_:
                self.best_loss_ = last

    def _split(self, X, Y, sample_weight, random_state):
        """Hold out the validation set for early stopping (stratified for one output)."""
        if not self.early_stopping:
            return X, Y, sample_weight, None
        stratify = Y if self._stratify_split() else None
        arrays = (X, Y) if sample_weight is None else (X, Y, sample_weight)
        parts = train_test_split(*arrays, random_state=random_state,
                                 test_size=self.validation_fraction, stratify=stratify)
        X_train, X_val, Y_train, Y_val = parts[:4]
        sw_train, sw_val = parts[4:] if sample_weight is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or "
                "the size of your dataset."
            )
        return X_train, Y_train, sw_train, (X_val, self._decode_target(Y_val), sw_val)

    def _stratify_split(self):
        return False

    def _decode_target(self, Y):
        return Y

    def _batch_size(self, n_samples, warn=True):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples and warn:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is going "
                "to be clipped"
            )
        return int(np.clip(self.batch_size, 1, n_samples))

    def _fit_lbfgs(self, X, Y, sample_weight, theta, sigmas, loss):
        # scipy works in float64; the objective is evaluated in θ's own dtype.
        grad = np.empty_like(theta)
        workspace = _engine.Workspace(self._layout, X.shape[0], theta.dtype, theta, grad,
                                      sigmas)
        Y = Y.astype(theta.dtype, copy=False)

        def fun(x):
            theta[...] = x
            J, g = _engine.loss_and_gradient(theta, X, Y, self._layout, sigmas, loss,
                                             self.alpha, sample_weight, grad, workspace)
            return J, g.astype(np.float64)

        self._run_lbfgs(fun, theta)

    def _run_lbfgs(self, fun, theta):
        """Minimise ``fun(x) -> (J, ∇J in float64)`` from θ with scipy's L-BFGS; record the fit."""
        curve = []

        def record(intermediate_result):
            curve.append(float(intermediate_result.fun))
            if self.verbose:
                print("Iteration %d, loss = %.8f" % (len(curve), curve[-1]))

        result = scipy.optimize.minimize(
            fun, theta.astype(np.float64), method="L-BFGS-B", jac=True, callback=record,
            options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol},
        )
        theta[...] = result.x
        self.n_iter_ = min(result.nit, self.max_iter)
        self.loss_ = float(result.fun)
        self.loss_curve_.extend(curve)
        self.best_loss_ = min(self.loss_curve_, default=self.loss_)
        if result.status != 0:
            message = result.message
            if isinstance(message, bytes):
                message = message.decode("latin1")
            warnings.warn(
                f"lbfgs failed to converge after {result.nit} iteration(s) "
                f"(status={result.status}):\n{message}.\n\nIncrease the number of "
                f"iterations (max_iter={self.max_iter}) or max_fun={self.max_fun}, or "
                "scale the data.",
                ConvergenceWarning,
            )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to data X and targets y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data. float32 input trains in float32.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights s_i; the loss is Σ s_i ℓ_i / Σ s_i.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def _partial_fit(self, X, y, sample_weight=None):
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def _check_solver(self):
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError(
                "partial_fit is only available for stochastic optimizers. "
                f"{self.solver} is not stochastic."
            )
        return True

    # ------------------------------------------------------------------
    # Prediction
    # ------------------------------------------------------------------
    def _check_X(self, X):
        check_is_fitted(self)
        self._check_coefs()
        return validate_data(self, X, reset=False, **_X_RULES)

    def _check_Xy(self, X, y, reset, **rules):
        """Validate training data; y with one column becomes 1-D (with a warning)."""
        X, y = validate_data(self, X, y, multi_output=True, reset=reset, **_X_RULES, **rules)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _forward_logits(self, X):
        """Z^L for X (validated)."""
        return _engine.logits(self._check_X(X), self.coefs_, self.intercepts_, self._sigmas)

    def _forward_output(self, X, check_input=True):
        """A^L for X (validated unless ``check_input`` is False)."""
        if check_input:
            X = self._check_X(X)
        return _engine.predict(X, self.coefs_, self.intercepts_, self._sigmas)

    def _score(self, X, y, sample_weight=None):
        """The validation score for early stopping; NaN if the outputs are not finite."""
        output = self._forward_output(X, check_input=False)
        if not np.isfinite(output).all():
            return np.nan
        return self._score_outputs(output, y, sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # ------------------------------------------------------------------
    # Subclass interface
    # ------------------------------------------------------------------
    def _validate_input(self, X, y, incremental, reset):  # pragma: no cover - abstract
        raise NotImplementedError

    def _score_outputs(self, output, y, sample_weight):  # pragma: no cover - abstract
        raise NotImplementedError

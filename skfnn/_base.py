"""The base estimator: parameters, validation, fit / partial_fit, fitted state.

:class:`BaseFNN` owns what the regressor and the classifier share: it
validates the data and the parameters, builds the network being trained
(:class:`~skfnn._network.Network`), chooses the hooks, hands the work to the
training loops of :mod:`skfnn._training`, and keeps the fitted model. The
subclasses only encode targets (``_validate_input``), choose the default
output activation, and decode predictions.

Under scikit-learn's ``array_api_dispatch``, a fit runs in the namespace and on
the device of X (:func:`skfnn._array_api.fit_namespace`): X, the encoded
targets, the weights and θ live there, and so do ``coefs_`` / ``intercepts_``;
y and sample_weight from another namespace or device are moved to X's.
"""

import contextlib
import copy
import functools
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn import get_config
from sklearn.base import BaseEstimator, clone
from sklearn.metrics import check_scoring
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, column_or_1d

from . import _array_api, _dask, _engine, _hooks, _training
from ._array_api import all_finite, array_namespace, astype, fit_namespace, on_device, to_numpy
from ._network import INITIALIZERS, Network
from ._sklearn_compat import (
    HAS_CALLBACKS,
    CallbackSupportMixin,
    HasMethods,
    Interval,
    Options,
    StrOptions,
    check_same_namespace,
    _check_sample_weight,
    _fit_context,
    _num_samples,
    validate_data,
    with_callbacks,
)
from ._state import dump_state, load_state
from ._threads import blas_threads_for
from .activations import ACTIVATIONS, get_activation
from .activations import optional as activation_optional
from .losses import BinaryLogLoss, LogLoss, get_loss
from .losses import optional as loss_optional
from .optimizers import SGD, Adam, AdamW, RMSprop
from .schedules import SCHEDULES, get_schedule

_STOCHASTIC_SOLVERS = ("sgd", "adam", "adamw", "rmsprop")
# Sparse X is accepted (numpy only); float32 stays float32, anything else becomes
# float64 (or float32 on a device without float64: see _x_rules).
_X_RULES = dict(accept_sparse=["csr", "csc"], dtype=(np.float64, np.float32))
# Hidden layers take any elementwise built-in (softmax is an output activation only).
_HIDDEN_ACTIVATIONS = {k: v for k, v in ACTIVATIONS.items() if v.elementwise}
# Fitted state that training changes in place (not by assignment): what a
# failed fit must put back. θ itself is restored into its own buffer.
_MUTATED_IN_PLACE = ("_optimizer", "loss_curve_", "validation_scores_",
                     "validation_loss_curve_", "_best_theta")


def transactional(method):
    """``fit`` / ``partial_fit`` undone on any exception (:meth:`BaseFNN._rollback_on_error`).

    The outermost decorator, so that everything the call runs is inside the
    rollback: the callbacks' setup and teardown (``with_callbacks``) and the
    root task's begin and end included, not only the training.
    """
    @functools.wraps(method)
    def undone_on_error(self, *args, **kwargs):
        with self._rollback_on_error():
            return method(self, *args, **kwargs)
    return undone_on_error


class BaseFNN(CallbackSupportMixin, BaseEstimator):
    """Shared implementation of :class:`FNNRegressor` and :class:`FNNClassifier`."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [str, "array-like", HasMethods(["forward", "derivative"])],
        "solver": [StrOptions({"lbfgs", *_STOCHASTIC_SOLVERS})],
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
    # Architecture: layer sizes, activations, loss
    # ------------------------------------------------------------------
    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if not all(isinstance(n, Integral) and not isinstance(n, (bool, np.bool_)) and n > 0
                   for n in sizes):
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
                f"activation has {_count(len(spec), 'entry', 'entries')} but there "
                f"{_hidden_layers(n_hidden)}; give one activation per hidden layer, or a "
                "single one."
            )
        if any(isinstance(s, str) and s in ACTIVATIONS and s not in _HIDDEN_ACTIVATIONS
               for s in spec):
            raise ValueError(
                "softmax is not elementwise and can only be the output activation "
                "(out_activation) of a multiclass classifier."
            )
        sigmas = [get_activation(s, "activation", _HIDDEN_ACTIVATIONS) for s in spec]
        if not all(activation_optional(s, "elementwise") for s in sigmas):
            raise ValueError(
                "A hidden activation must be elementwise; got one whose attribute "
                "elementwise is False. Non-elementwise activations (softmax) can only be "
                "the output activation of a multiclass classifier."
            )
        return sigmas

    def _init_factors(self, hidden):
        # As scikit-learn: each layer is initialised for the hidden activation,
        # the output layer for the last hidden one.
        factor = [activation_optional(s, "init_factor") for s in hidden]
        if hidden:
            return factor + factor[-1:]
        single = self.activation if not hasattr(self.activation, "__iter__") \
            or isinstance(self.activation, str) else "relu"
        return [activation_optional(get_activation(single), "init_factor")]

    def _resolve_output(self, Y):
        """Return (loss, output activation) for this task, validated."""
        loss = self._get_loss()
        if self.out_activation == "auto":
            out = get_activation(self._default_out_activation(loss), "out_activation")
        else:
            out = get_activation(self.out_activation, "out_activation")
        if isinstance(loss, LogLoss) and activation_optional(out, "elementwise"):
            # With an elementwise output each unit is its own Bernoulli variable.
            loss = BinaryLogLoss()
        if not activation_optional(out, "elementwise") and activation_optional(out, "vjp") is None:
            raise ValueError(
                f"out_activation={out!r} is not elementwise, so it needs a method "
                "vjp(z, a, g) returning (∂a/∂z)ᵀ g for each row (see docs/extending.md)."
            )
        self._check_output(loss, out)
        check_target = loss_optional(loss, "check_target")
        if check_target is not None:
            check_target(Y)
        return loss, out

    def _get_loss(self):
        """The loss object of the ``loss`` parameter (a subclass may add its own parameters)."""
        return get_loss(self.loss)

    def _default_out_activation(self, loss):
        return loss_optional(loss, "default_out_activation")

    def _check_output(self, loss, out):
        """Subclass hook: reject output activations the task cannot use."""

    def _network(self, X, Y):
        """The network this fit trains, from the parameters, for X (validated) and Y."""
        hidden_sizes = self._hidden_sizes()
        hidden = self._hidden_activations(len(hidden_sizes))
        loss, out = self._resolve_output(Y)
        xp, device = array_namespace(X), _array_api.device(X)
        _array_api.check_trainable(xp, device)
        # The loss's output head: outputs_per_target network outputs for each target.
        n_outputs = Y.shape[1] * loss_optional(loss, "outputs_per_target")
        return Network([X.shape[1], *hidden_sizes, n_outputs], [*hidden, out], loss,
                       self.alpha, init_factors=self._init_factors(hidden),
                       dropout=self._dropout_rates(len(hidden_sizes)), init=self.init,
                       xp=xp, device=device)

    def _dropout_rates(self, n_hidden):
        """p_l for each hidden layer, from a single rate or one per layer."""
        rates = self.dropout
        if not hasattr(rates, "__iter__"):
            rates = [rates] * n_hidden
        elif len(rates) != n_hidden:
            raise ValueError(f"dropout has {_count(len(rates), 'entry', 'entries')} but there "
                             f"{_hidden_layers(n_hidden)}; give one rate per hidden layer, "
                             "or a single one.")
        if not all(isinstance(p, Real) and 0 <= p < 1 for p in rates):
            raise ValueError(f"dropout rates must lie in [0, 1); got {list(rates)}.")
        if any(rates) and self.solver not in _STOCHASTIC_SOLVERS:
            raise ValueError(
                f"dropout needs a stochastic solver (one of {', '.join(_STOCHASTIC_SOLVERS)}): "
                "it makes the objective random, and L-BFGS's line search compares objective "
                "values, which a new mask at every evaluation would make meaningless."
            )
        return [float(p) for p in rates]

    # ------------------------------------------------------------------
    # Fitting
    # ------------------------------------------------------------------
    def _prepare(self, X, y, sample_weight, incremental, classes=None, validation=None):
        """Validate the data and (re)build the network; return what training needs.

        Initialises the weights on a fresh fit; otherwise checks that the
        architecture is unchanged. Returns ``(X, Y, sample_weight, net, theta,
        random_state, validation)`` with Y 2-D (bool for a classifier: cast to
        θ's dtype where used) and ``validation`` a
        :class:`~skfnn._training.ValidationSet` or None, all in X's namespace
        and on its device.
        """
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, Y, labels = self._validate_input(X, y, incremental, reset=first_pass,
                                            classes=classes)
        if not first_pass:
            X = _in_dtype_of(X, self._theta)
        sample_weight = _checked_weights(sample_weight, X, "sample_weight")
        weigh = self._class_weigher(labels, Y, to_numpy(sample_weight), incremental)
        sample_weight = _weighted(sample_weight, X, weigh, labels, Y)
        Y = _as_columns(Y)
        validation = self._validation_set(validation, X.dtype, Y.shape[1], weigh)
        net = self._network(X, Y)  # checks Y against the loss (a classifier's on the host)
        Y = on_device(Y, X)
        random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(net, random_state, X.dtype)
        else:
            self._check_architecture(net)
        self._net = net
        return X, Y, sample_weight, net, self._theta_from_coefs(), random_state, validation

    def _class_weigher(self, labels, Y, sample_weight, incremental):
        """Subclass hook: ``weigh(labels, Y)``, each sample's class weight, or None."""
        return None

    def _validation_set(self, validation, dtype, n_outputs, weigh=None):
        """X_val, y_val and sample_weight_val validated like X, y and sample_weight."""
        if validation is None or (validation[0] is None and validation[1] is None):
            if validation is not None and validation[2] is not None:
                raise ValueError("sample_weight_val was given without X_val and y_val.")
            return None
        X_user, y_user, sw_val = validation
        if X_user is None or y_user is None:
            raise ValueError("X_val and y_val must be given together (got only "
                             f"{'X_val' if y_user is None else 'y_val'}).")
        X_val = astype(validate_data(self, X_user, reset=False, **_x_rules(X_user)), dtype)
        if _num_samples(y_user) != X_val.shape[0]:
            raise ValueError(f"X_val has {X_val.shape[0]} samples but y_val has "
                             f"{_num_samples(y_user)}.")
        Y_val, labels = self._encode_validation_target(y_user, X_val)
        sw_val = _checked_weights(sw_val, X_val, "sample_weight_val")
        sw_val = _weighted(sw_val, X_val, weigh, labels, Y_val)  # as training is weighted
        Y_val = _as_columns(on_device(Y_val, X_val))
        if Y_val.shape[1] != n_outputs:
            raise ValueError(f"y_val has {Y_val.shape[1]} outputs but y has {n_outputs}.")
        return _training.ValidationSet(X_val, Y_val, labels, sw_val, X_user)

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
        context = self._callback_root(incremental)
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        if context is not None:
            context.call_on_fit_task_begin(estimator=self, X=X, y=y, metadata=metadata)
        X_, Y, sw, net, theta, random_state, validation = self._prepare(
            X, y, sample_weight, incremental, classes, validation)
        bridge = None if context is None else _hooks.CallbackBridge(
            context, "epoch" if self.solver in _STOCHASTIC_SOLVERS else "lbfgs-iter",
            X, y, metadata)
        self._train(X_, Y, sw, net, theta, random_state, incremental, bridge, validation)
        if context is not None:
            context.call_on_fit_task_end(estimator=self, X=X, y=y, metadata=metadata,
                                         reconstruction_attributes={})
        return self

    def _train(self, X, Y, sample_weight, net, theta, random_state, incremental, bridge,
               validation=None):
        """Run the solver's training loop with this fit's hooks."""
        if self.solver not in _STOCHASTIC_SOLVERS:
            return self._train_lbfgs(_training.Run(self, net, theta, X, Y, sample_weight,
                                                   max_iter=self.max_iter, samples_per_epoch=0),
                                     bridge, validation)
        self.n_iter_ = 0
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = self._make_optimizer(theta)
        if self.early_stopping and validation is None:
            (X, Y, sample_weight), (X_val, Y_val, sw_val) = _training.split_validation(
                X, Y, sample_weight, fraction=self.validation_fraction,
                stratify=self._stratify_split(), random_state=random_state)
            y_val = self._decode_target(Y_val)
            validation = _training.ValidationSet(X_val, Y_val, y_val, sw_val, X_val)
        batch_size = _training.batch_size(self.batch_size, X.shape[0])
        run = _training.Run(self, net, theta, X, Y, sample_weight,
                            max_iter=1 if incremental else self.max_iter,
                            samples_per_epoch=X.shape[0], optimizer=self._optimizer,
                            clip_norm=self.clip_norm)
        n_batches = -(-X.shape[0] // batch_size)
        hooks = self._hooks(run, validation, n_batches, incremental, bridge)
        with blas_threads_for(batch_size, net.layer_units):
            _training.fit_stochastic(run, hooks, batch_size=batch_size, shuffle=self.shuffle,
                                     random_state=random_state)

    def _train_lbfgs(self, run, bridge=None, validation=None, objective=None):
        """L-BFGS with this fit's hooks; ``objective``: another source of (J, ∇J) (Dask)."""
        self.n_iter_ = 0
        hooks = self._hooks(run, validation, 1, False, bridge)
        with blas_threads_for(run.X.shape[0], run.net.layer_units):
            _training.fit_lbfgs(run, hooks, max_fun=self.max_fun, tol=self.tol,
                                objective=objective)

    def _hooks(self, run, validation, n_batches, incremental, bridge):
        """The rules of this fit, in the order they see each epoch."""
        stochastic = run.optimizer is not None
        hooks = [_hooks.History()]
        if validation is not None:
            hooks.append(self._validation_monitor(run, validation, n_batches))
        if stochastic:
            hooks += [_hooks.EarlyStopping() if self.early_stopping
                      else _hooks.TrainingLossPlateau(), _hooks.NoImprovementStop()]
        if self.verbose:
            hooks.append(_hooks.Verbose())
        if bridge is not None:
            hooks.append(bridge)
        hooks.append(_hooks.DivergenceGuard(stochastic))
        if stochastic and not incremental:
            hooks.append(_hooks.MaxIterWarning())
        if not stochastic:
            hooks.insert(0, _hooks.LbfgsOutcome())
            hooks.append(_hooks.LbfgsWarning())
        return hooks

    def _validation_monitor(self, run, validation, n_batches):
        """The hook scoring ``validation`` after each epoch, with the L2 term of loss_curve_.

        loss_curve_ is the mean of the epoch's batch objectives, each carrying
        α‖W‖² / (2 Σ s of its batch); the validation loss carries the same
        term at the epoch's final weights, α‖W‖² / (2 m), m = Σ s of the
        training rows / the number of batches (L-BFGS: one batch of all rows).
        """
        weights = _engine.total_weight(run.X, run.sample_weight)
        if self.validation_scores_ is None:
            self.validation_scores_ = []
        if self.validation_loss_curve_ is None:
            self.validation_loss_curve_ = []
        return _hooks.ValidationMonitor(validation, self._validation_scorer(),
                                        penalty_weight=float(weights) / n_batches)

    def _validation_scorer(self):
        """score(estimator, output, loss, validation): the scoring parameter's rule."""
        scoring = getattr(self, "scoring", None)
        if scoring is None:
            return lambda est, output, loss, v: est._score_outputs(output, v.y, v.sample_weight)
        if scoring == "loss":  # lower is better: recorded negated, as HistGradientBoosting
            return lambda est, output, loss, v: -loss
        scorer = check_scoring(self, scoring)

        def score(est, output, loss, v):
            weights = {} if v.sample_weight is None else {"sample_weight": v.sample_weight}
            with warnings.catch_warnings():  # an internal split's X has no feature names
                warnings.filterwarnings("ignore", "X does not have valid feature names")
                return scorer(est, v.X_user, v.y, **weights)
        return score

    @contextlib.contextmanager
    def _rollback_on_error(self):
        """On any exception, put the estimator back exactly as it was, then re-raise.

        Ctrl-C inside the training loop does not get here: the loop keeps the
        partly trained model with a warning, as scikit-learn does.
        """
        saved = dict(self.__dict__)
        theta = saved.get("_theta")
        theta_before = None if theta is None else _array_api.copy(theta)
        # The curves are lists of floats: a shallow copy is a snapshot, and a deep one
        # would cost partial_fit time that grows with the number of calls so far.
        mutable = {k: list(saved[k]) if isinstance(saved[k], list) else copy.deepcopy(saved[k])
                   for k in _MUTATED_IN_PLACE if k in saved}
        try:
            yield
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            if theta is not None:
                theta[...] = theta_before  # coefs_ / intercepts_ are its views
            for key, before in mutable.items():
                # The very objects a user may hold (est.loss_curve_), with their contents.
                if isinstance(before, list):
                    saved[key][:] = before
                elif _array_api.is_array(before):
                    saved[key][...] = before
                else:
                    self.__dict__[key] = before
            raise

    def _callback_root(self, incremental):
        """The root callback task of this fit, or None when no callback listens."""
        if not HAS_CALLBACKS or not (getattr(self, "_skl_callbacks", None)
                                     or hasattr(self, "_parent_callback_ctx")):
            return None
        if incremental:
            n_tasks = 1
        elif self.solver in _STOCHASTIC_SOLVERS:
            n_tasks = self.max_iter
        else:  # as scikit-learn's L-BFGS bridge: one more, begun but never run
            n_tasks = self.max_iter + 1
        context = self._init_callback_context(max_subtasks=n_tasks)
        return context if getattr(self, "_skl_callbacks", None) else None

    def _reconstruction_attributes(self, theta):
        """Fitted attributes that make a copy of the estimator predict with θ as it is now."""
        theta = _array_api.copy(theta)
        coefs, intercepts = self._net.layout.unpack(theta)
        return {"_theta": theta, "coefs_": coefs, "intercepts_": intercepts,
                "loss_curve_": list(self.loss_curve_), "n_iter_": self.n_iter_}

    def _initialize(self, net, random_state, dtype):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = net.layer_units[-1]
        self.n_layers_ = len(net.layer_units)
        out = net.output
        self.out_activation_ = out.name if type(out) in ACTIVATIONS.values() else out
        theta = net.initial_theta(random_state, dtype)
        self._net = net
        self._set_coefs(theta)
        self.loss_curve_ = []
        self.validation_loss_curve_ = None
        self._no_improvement_count = 0
        self.__dict__.pop("_optimizer", None)
        self.__dict__.pop("_best_theta", None)
        if self.early_stopping:
            self._best_theta = _array_api.copy(theta)
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _check_architecture(self, net):
        fitted = self._net
        _check_same_place(self, net, "continuing training (warm_start=True or partial_fit)")
        if net.layer_units != fitted.layer_units:
            raise ValueError(
                f"The network was fitted with layer sizes {list(fitted.layer_units)} "
                f"but this call needs {list(net.layer_units)}: hidden_layer_sizes, the "
                "number of features or the number of outputs changed. Continuing training "
                "(warm_start=True or partial_fit) needs the same architecture; call fit "
                "with warm_start=False to start afresh."
            )
        if not all(a is b or a == b for a, b in zip(net.sigmas, fitted.sigmas)):
            raise ValueError(
                f"The network was fitted with activations {list(fitted.sigmas)} but the "
                f"parameters now give {list(net.sigmas)}. Continuing training "
                "(warm_start=True or partial_fit) needs the same activations."
            )
        self._resume_bookkeeping()

    def _resume_bookkeeping(self):
        """Continue a fit in a mode (early stopping or not) the last fit did not use."""
        if self.early_stopping:
            if self.validation_scores_ is None:  # X_val without early stopping makes a list
                self.validation_scores_ = []
            if self.best_validation_score_ is None:
                self.best_validation_score_, self.best_loss_ = -np.inf, None
            if not hasattr(self, "_best_theta"):  # the weights so far are the best so far
                self._best_theta = _array_api.copy(self._theta)
        else:
            self.__dict__.pop("_best_theta", None)
            if self.best_loss_ is None:
                self.best_loss_ = np.inf

    def _set_coefs(self, theta):
        """Expose θ as ``coefs_`` / ``intercepts_`` (views, so they stay current)."""
        self._theta = theta
        self.coefs_, self.intercepts_ = self._net.layout.unpack(theta)

    def _theta_from_coefs(self):
        """Return θ, re-packed if the user replaced or re-shaped coefs_ / intercepts_.

        ``coefs_`` and ``intercepts_`` are the model; θ is only a cache of them.
        While they are θ's own views, training updates them in place; arrays the
        user assigned there are packed into a new θ first.
        """
        theta = self._theta
        expected = self._check_coefs()
        params = [*self.coefs_, *self.intercepts_]
        if all(_array_api.is_view(p, v, theta) for p, v in zip(params, expected)):
            return theta
        xp = array_namespace(theta)
        dtype = xp.result_type(*params)
        if not _array_api.is_float(dtype, xp):  # integer or bool weights assigned by hand
            dtype = xp.float64 if xp is np else theta.dtype
        theta = _array_api.empty(theta.shape[0], dtype, theta)
        self._set_coefs(self._net.layout.pack(self.coefs_, self.intercepts_, out=theta))
        return theta

    def _check_coefs(self):
        """Raise ValueError unless coefs_ / intercepts_ are a usable model; return θ's views.

        They must have the fitted architecture's shapes and hold finite real
        numbers: NaN weights would make every prediction the same class, and
        complex ones complex probabilities.
        """
        Ws, bs = self._net.layout.unpack(self._theta)
        expected = Ws + bs
        params = [*self.coefs_, *self.intercepts_]
        if len(self.coefs_) != len(Ws) or len(params) != len(expected) or any(
            tuple(getattr(p, "shape", np.shape(p))) != v.shape for p, v in zip(params, expected)
        ):
            raise ValueError(
                "coefs_ and intercepts_ no longer match the fitted architecture "
                f"{list(self._net.layer_units)}: expected shapes "
                f"{[tuple(v.shape) for v in expected]}, got "
                f"{[tuple(getattr(p, 'shape', np.shape(p))) for p in params]}."
            )
        names = [f"coefs_[{i}]" for i in range(len(Ws))] + \
                [f"intercepts_[{i}]" for i in range(len(bs))]
        for name, p in zip(names, params):
            _check_weight(name, p, self._theta)
        return expected

    def _make_optimizer(self, theta):
        """The solver's optimizer for θ, following the learning-rate schedule."""
        common = dict(schedule=get_schedule(self.learning_rate, power_t=self.power_t,
                                            max_iter=self.max_iter),
                      warmup_epochs=self.warmup_epochs, xp=array_namespace(theta),
                      device=_array_api.device(theta))
        size, dtype, eta = theta.shape[0], theta.dtype, self.learning_rate_init
        if self.solver == "sgd":
            return SGD(size, dtype, eta, self.momentum, self.nesterovs_momentum, **common)
        if self.solver == "rmsprop":
            return RMSprop(size, dtype, eta, self.rho, self.epsilon, **common)
        if self.solver == "adamw":
            return AdamW(size, dtype, eta, self.beta_1, self.beta_2, self.epsilon,
                         self.weight_decay, **common)
        return Adam(size, dtype, eta, self.beta_1, self.beta_2, self.epsilon, **common)

    def _stratify_split(self):
        return False

    def _decode_target(self, Y):
        return Y

    def _check_solver(self):
        if self.solver not in _STOCHASTIC_SOLVERS:
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

    # ------------------------------------------------------------------
    # Prediction
    # ------------------------------------------------------------------
    def _check_X(self, X, method):
        """X validated for prediction by ``method``, in the namespace and on the device of fit."""
        check_is_fitted(self)
        self._check_coefs()
        check_same_namespace(X, self, attribute="_theta", method=method)
        X = validate_data(self, X, reset=False, **_x_rules(X))
        _check_same_place(self, X, method)
        return X

    def _check_Xy(self, X, y, reset, **rules):
        """Validate training data; y with one column becomes 1-D (with a warning)."""
        X, y = validate_data(self, X, y, multi_output=True, reset=reset, **_x_rules(X),
                             **rules)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _forward_logits(self, X, method):
        """Z^L for X (validated for ``method``)."""
        X, Ws, bs = self._promoted(self._check_X(X, method))
        with blas_threads_for(X.shape[0], self._net.layer_units):
            return _finite(_engine.logits(self._net, X, Ws, bs))

    def _forward_output(self, X, method=None, check_input=True):
        """A^L for X (validated for ``method`` and checked finite, unless ``check_input``
        is False). Small products run on one BLAS thread, as a fit's (``_threads``)."""
        if check_input:
            X, Ws, bs = self._promoted(self._check_X(X, method))
        else:
            Ws, bs = self.coefs_, self.intercepts_
        with blas_threads_for(X.shape[0], self._net.layer_units):
            output = _engine.predict(self._net, X, Ws, bs)
        return _finite(output) if check_input else output

    def _promoted(self, X):
        """X and the weights in their common dtype, as numpy's products promote them.

        numpy's matrix products promote (a float32 model predicts float64 X in
        float64); the array API's ``@`` needs one dtype, so X and the weights are
        cast to it (a copy of the weights only when the dtypes differ).
        """
        Ws, bs = self.coefs_, self.intercepts_
        xp = array_namespace(self._theta)
        if xp is np or X.dtype == self._theta.dtype:
            return X, Ws, bs
        dtype = xp.result_type(X.dtype, self._theta.dtype)
        return (astype(X, dtype), [astype(W, dtype) for W in Ws],
                [astype(b, dtype) for b in bs])

    def _score(self, X, y, sample_weight=None):
        """The validation score for early stopping; NaN if the outputs are not finite."""
        output = self._forward_output(X, check_input=False)
        if not all_finite(output):
            return np.nan
        return self._score_outputs(output, y, sample_weight)

    def __sklearn_array_api_convert__(self, converter):
        """A copy of this estimator with its arrays converted (``move_estimator_to``).

        scikit-learn's conversion would copy ``coefs_`` and ``intercepts_`` apart
        from θ, whose views they are; here θ is converted once and its views
        rebuilt, the optimizer's state and the best weights follow, the network
        takes the new namespace and device, and numeric ``classes_`` move too
        (string labels are numpy arrays wherever the model is).
        """
        new = clone(self)
        state = dict(self.__dict__)
        # A copy of each: a conversion may share memory (DLPack), and training writes in place.
        converter = _copying(converter)
        if "_theta" in state:
            self._theta_from_coefs()  # θ as the coefs_ the user may have assigned
            theta = converter(self._theta)
            state["_theta"] = theta
            state["_net"] = self._net.replace(xp=array_namespace(theta),
                                              device=_array_api.device(theta))
            state["coefs_"], state["intercepts_"] = state["_net"].layout.unpack(theta)
        for key in ("_best_theta", "_optimizer"):
            if key in state:
                state[key] = _converted(state[key], converter)
        labels = state.get("classes_")
        if _array_api.is_array(labels) and _array_api.is_real(labels):
            state["classes_"] = converter(labels)
        new.__dict__.update(state)
        return new

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        # scikit-learn < 1.9 lacks the helpers skfnn's array API path needs (a fit on
        # another library's arrays says so there): numpy only.
        tags.array_api_support = _array_api.HAS_ARRAY_API
        return tags

    # ------------------------------------------------------------------
    # Subclass interface
    # ------------------------------------------------------------------
    def _validate_input(self, X, y, incremental, reset, classes=None):  # pragma: no cover
        """Return (X, Y, labels): validated X, encoded targets, targets as scorers take them."""
        raise NotImplementedError

    def _encode_validation_target(self, y):  # pragma: no cover - abstract
        """Return (Y_val, labels) for y_val, validated against the training targets."""
        raise NotImplementedError

    def _score_outputs(self, output, y, sample_weight):  # pragma: no cover - abstract
        raise NotImplementedError


def _finite(output):
    """The network's outputs, unless some are not finite (then no prediction is right)."""
    if not all_finite(output):
        xp = array_namespace(output)
        rows = int(xp.sum(astype(xp.any(~xp.isfinite(output), axis=1), xp.int64)))
        raise ValueError(
            f"The network's outputs are non-finite (nan or inf) for {rows} of "
            f"{output.shape[0]} rows: an activation overflowed or returned nan there, so "
            "no prediction can be made for them. Check the input's scale (and any custom "
            "activation)."
        )
    return output


def _count(n, one, many):
    return f"{n} {one if n == 1 else many}"


def _hidden_layers(n):
    """'is 1 hidden layer', 'are 2 hidden layers'."""
    return f"{'is' if n == 1 else 'are'} {_count(n, 'hidden layer', 'hidden layers')}"


def _checked_weights(sample_weight, X, name):
    """Weights s_i ≥ 0 with a positive sum, in X's dtype, namespace and device (None stays None)."""
    if sample_weight is None:
        return None
    sample_weight = _check_sample_weight(_array_api.follow(X, sample_weight), X,
                                         ensure_non_negative=True)
    if not _array_api.sum(sample_weight) > 0:
        raise ValueError(f"{name} sums to zero: at least one sample must have a positive "
                         "weight.")
    return sample_weight


def _weighted(sample_weight, X, weigh, labels, Y):
    """s_i times the class weight of sample i, as scikit-learn's LogisticRegression folds it."""
    if weigh is None:
        return sample_weight
    factor = on_device(weigh(labels, to_numpy(Y)), X, dtype=X.dtype)
    if sample_weight is None:
        return factor
    return sample_weight * factor


def _in_dtype_of(X, theta):
    """X in θ's dtype, to continue training (partial_fit, warm_start) in θ's precision.

    numpy's products cast into θ's buffers; the array API's ``@`` needs one dtype.
    """
    xp = array_namespace(theta)
    if xp is np or array_namespace(X) is not xp or X.dtype == theta.dtype:
        return X
    return astype(X, theta.dtype)


def _as_columns(Y):
    """Y as a matrix: one column per output."""
    return array_namespace(Y).reshape(Y, (-1, 1)) if Y.ndim == 1 else Y


def _x_rules(X):
    """validate_data's rules for X: :data:`_X_RULES` with the float dtypes of X's namespace."""
    return {**_X_RULES, "dtype": fit_namespace(X)[2]}


def _check_weight(name, p, theta):
    """Raise ValueError unless the weight array p can stand beside θ in the model."""
    xp = array_namespace(theta)
    if not _array_api.is_array(p) or array_namespace(p) is not xp:
        kind, make = ("numpy", "np") if xp is np else (f"{_array_api.name(xp)} (as in fit)",
                                                        "xp")
        raise ValueError(f"{name} is a {type(p).__name__}; the weights must be {kind} "
                         f"arrays (assign {make}.asarray(...) to {name}).")
    if not _array_api.is_real(p):
        raise ValueError(f"{name} has dtype {p.dtype}; the weights must be real "
                         "floating-point numbers.")
    if not all_finite(p):
        raise ValueError(f"{name} contains non-finite values (nan or inf); the model cannot "
                         "predict with them.")


def _check_same_place(estimator, target, action):
    """Raise ValueError unless ``target`` (X or a new network) lives where θ does."""
    theta = estimator._theta
    xp, dev = array_namespace(theta), _array_api.device(theta)
    if isinstance(target, Network):
        other_xp, other_dev = target.xp, target.device
    else:
        other_xp, other_dev = array_namespace(target), _array_api.device(target)
    if other_xp is xp and other_dev == dev:
        return
    where = "numpy" if xp is np else f"{_array_api.name(xp)} arrays on {dev}"
    # scikit-learn 1.9 has the helper only in a private module, with no public name yet.
    move = ("move the model first with scikit-learn's move_estimator_to(estimator, xp, "
            "device) (not public in scikit-learn 1.9: import it from "
            "sklearn.utils._array_api; see skfnn's docs/array_api.md, 'Moving and saving "
            "a model').")
    if xp is not np and not get_config()["array_api_dispatch"]:
        # Without dispatch scikit-learn's validation turned X into numpy, whatever it was.
        raise ValueError(
            f"{type(estimator).__name__} was fitted on {where}, under array_api_dispatch; "
            f"{action} without it sees numpy data. Call it inside "
            "sklearn.config_context(array_api_dispatch=True) with data of that namespace "
            f"and device, or {move}")
    raise ValueError(
        f"{type(estimator).__name__} was fitted on {where}; {action} needs data of the "
        "same namespace and device (under array_api_dispatch=True for any namespace but "
        f"numpy). Or {move}")


def _copying(converter):
    return lambda array: _array_api.copy(converter(array))


def _converted(value, converter):
    """An optimizer (a copy, with its arrays converted) or an array, converted."""
    if _array_api.is_array(value):
        return converter(value)
    new = copy.copy(value)
    new.__dict__ = {k: converter(v) if _array_api.is_array(v) else v
                    for k, v in vars(value).items()}
    return new

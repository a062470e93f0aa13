"""Docstring fragments shared by FNNRegressor and FNNClassifier.

Each estimator's docstring is its own summary, then :data:`PARAMETERS`, its own
``loss`` and ``out_activation`` entries, then :data:`ATTRIBUTES` and its own
attributes; the shared parts are written once, here.
"""

PARAMETERS = """
    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of units in the ith hidden layer.
    activation : str, Activation or sequence of them, default="relu"
        The hidden activation σ_l: a name in ``skfnn.activations.ACTIVATIONS``
        ("identity", "logistic", "tanh", "relu", "leaky_relu", "elu",
        "softplus", "gelu", "silu"), an :class:`~skfnn.activations.Activation`
        object, or a sequence with one entry per hidden layer.
    solver : {"lbfgs", "sgd", "adam", "adamw", "rmsprop"}, default="adam"
        The weight optimizer: "lbfgs", "sgd" and "adam" as in scikit-learn's
        MLP; "adamw" (decoupled weight decay) and "rmsprop" as PyTorch's
        ``AdamW`` and ``RMSprop``.
    alpha : float, default=0.0001
        Strength of the L2 penalty α / (2 Σ s) Σ_l ‖W^l‖².
    batch_size : int or "auto", default="auto"
        Minibatch size of the stochastic solvers; "auto" is min(200, n_samples).
    learning_rate : {"constant", "invscaling", "adaptive", "cosine"} or Schedule, \
default="constant"
        Learning-rate schedule of the stochastic solvers (scikit-learn's MLP
        applies it to "sgd" only): "invscaling" η₀ / (t + 1)^power_t,
        "adaptive" η / 5 on each plateau, "cosine" annealing to 0 over
        ``max_iter`` epochs, or a :class:`~skfnn.schedules.Schedule` object.
    learning_rate_init : float, default=0.001
        The initial step size η₀ of the stochastic solvers.
    power_t : float, default=0.5
        Exponent of the "invscaling" schedule.
    max_iter : int, default=200
        Maximum number of epochs (stochastic solvers) or iterations (lbfgs).
    shuffle : bool, default=True
        Whether to shuffle the samples in each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation, the validation split and shuffling,
        drawn in scikit-learn's order.
    tol : float, default=1e-4
        Tolerance of the no-improvement stopping rule (and lbfgs's gtol).
    verbose : bool, default=False
        Print the loss after each iteration.
    warm_start : bool, default=False
        Continue from the previous fit's weights (the architecture must match).
    momentum : float, default=0.9
        Momentum of "sgd".
    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum with "sgd".
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when its score
        stops improving; the best weights are restored.
    validation_fraction : float, default=0.1
        Fraction of the training data held out for early stopping.
    beta_1, beta_2 : float, default=0.9, 0.999
        Decay rates of Adam's moment estimates.
    epsilon : float, default=1e-8
        The numerical-stability constant of "adam", "adamw" and "rmsprop".
    n_iter_no_change : int or np.inf, default=10
        Number of epochs without an improvement of ``tol`` before stopping.
    max_fun : int, default=15000
        Maximum number of loss evaluations of "lbfgs".
    weight_decay : float, default=0.01
        λ of "adamw"'s decoupled weight decay θ ← (1 − η λ) θ, on every
        parameter (as PyTorch's); ignored by the other solvers. ``alpha``'s L2
        term stays in the loss.
    rho : float, default=0.9
        Decay ρ of "rmsprop"'s mean square (PyTorch's ``alpha``); ignored by
        the other solvers.
    warmup_epochs : int, default=0
        W of a linear warm-up of the stochastic solvers: epoch e (from 0)
        runs at (e + 1) / (W + 1) times the schedule's rate while e < W.
    clip_norm : float or None, default=None
        With the stochastic solvers, rescale each step's gradient ∇J (the L2
        term included) to at most this global L2 norm, as PyTorch's
        ``clip_grad_norm_``. None: no clipping.
"""

ATTRIBUTES = """
    Attributes
    ----------
    coefs_ : list of ndarray
        W^l of shape (n_{l-1}, n_l). The model: assigning here changes the
        next predict, partial_fit or warm-started fit.
    intercepts_ : list of ndarray
        b^l of shape (n_l,).
    loss_ : float
        The objective J at the end of training.
    loss_curve_ : list of float
        J after each epoch (stochastic solvers) or iteration (lbfgs).
    best_loss_ : float or None
        The smallest training loss seen (None with early stopping).
    validation_scores_ : list of float or None
        The score on the held-out set after each epoch (early stopping only).
    best_validation_score_ : float or None
        The best of ``validation_scores_``.
    n_iter_ : int
        Number of epochs (iterations for lbfgs) run.
    t_ : int
        Number of training samples seen by the stochastic solvers.
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of output units.
    out_activation_ : str or Activation
        The output activation σ_L.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during fit, when X has string column names.
"""

"""Drop-in parity with scikit-learn's MLP (issue 4).

The parity matrix fits skfnn and scikit-learn with identical parameters, data
and integer ``random_state``, and checks that both end in the same place:
``coefs_``, ``intercepts_``, ``n_iter_``, ``t_``, ``loss_``, ``loss_curve_``,
``best_loss_``, ``validation_scores_``, ``best_validation_score_``,
predictions, probabilities, the categories of the warnings raised and what
``verbose`` prints. One helper, :func:`fit_both`, fits the pair and
:func:`assert_same_fit` compares every attribute.

Where skfnn deliberately departs from scikit-learn (docs/differences.md), the
difference itself is tested further down, asserting skfnn's documented
behaviour and, where it matters, scikit-learn's contrasting one.

Tolerances. In float64 the two fits agree bit for bit in almost every case
(L-BFGS, whose path goes through scipy's line search, agrees to about 1e-12),
so float64 uses rtol=1e-6 with atol=1e-9. In float32, SGD classifiers agree bit
for bit too, but the rest do not: scikit-learn's Adam multiplies by a NumPy
float64 learning rate, so its float32 update is computed in float64 and
rounded once (skfnn's stays in float32), and scikit-learn's regressor keeps y
in float64, so its output error and gradients are float64. The largest
deviations seen over this matrix are 4e-7 absolute in the weights (a few
float32 ulps) and 1.6e-6 relative in the losses, so float32 uses rtol=1e-5
with atol=1e-6.
"""

import contextlib
import copy
import inspect
import io
import warnings
from dataclasses import dataclass, field

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_classification, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

from skfnn import FNNClassifier, FNNRegressor, check_gradients

TOLERANCES = {np.float64: dict(rtol=1e-6, atol=1e-9), np.float32: dict(rtol=1e-5, atol=1e-6)}

N_SAMPLES, N_FEATURES, N_OUTPUTS, N_LABELS = 120, 6, 3, 3
REGRESSION_TASKS = ("regression", "regression_multi", "poisson")


# ----------------------------------------------------------------------
# Data and the pair of estimators
# ----------------------------------------------------------------------
def make_data(task, n=N_SAMPLES, seed=0):
    """Small, well-scaled problems for every task the two libraries share."""
    rng = np.random.RandomState(seed)
    if task == "regression":
        X, y = make_regression(n, N_FEATURES, noise=5.0, random_state=seed)
        y = y / y.std()
    elif task == "regression_multi":
        X, y = make_regression(n, N_FEATURES, n_targets=N_OUTPUTS, noise=5.0, random_state=seed)
        y = y / y.std(axis=0)
    elif task == "poisson":
        X = rng.randn(n, N_FEATURES)
        y = rng.poisson(np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1])).astype(float)
    elif task == "binary":
        X, y = make_classification(n, N_FEATURES, random_state=seed)
    elif task == "multiclass":
        X, y = make_classification(n, N_FEATURES, n_informative=4, n_classes=3,
                                   random_state=seed)
    elif task == "multilabel":
        X, y = make_multilabel_classification(n, N_FEATURES, n_classes=N_LABELS,
                                              random_state=seed)
        X = (X - X.mean(axis=0)) / X.std(axis=0)
    else:  # pragma: no cover
        raise ValueError(task)
    return X, y


def estimators(task, **params):
    """``(skfnn estimator, scikit-learn estimator)`` with the same parameters."""
    if task == "poisson":
        params = {"loss": "poisson", **params}
    if task in REGRESSION_TASKS:
        return FNNRegressor(**params), MLPRegressor(**params)
    return FNNClassifier(**params), MLPClassifier(**params)


@dataclass
class Case:
    """One row of the parity matrix."""

    id: str
    task: str
    params: dict
    dtype: type = np.float64
    sparse: bool = False
    sample_weight: bool = False
    schedule: str = "fit"  # "fit", "warm_start" (two fits) or "partial_fit" (4 calls)
    expect: dict = field(default_factory=dict)  # extra checks, see test_parity

    def __str__(self):
        return self.id


BASE = dict(hidden_layer_sizes=(5,), max_iter=30, random_state=0, learning_rate_init=0.01)


@dataclass
class Run:
    """What one estimator did: the fitted estimator, its warnings and stdout."""

    est: object
    warnings: set
    stdout: str


def _run(est, case, X, y, sample_weight):
    out = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out):
        warnings.simplefilter("always")
        if case.schedule == "fit":
            est.fit(X, y, sample_weight=sample_weight)
        elif case.schedule == "warm_start":
            est.set_params(warm_start=True)
            est.fit(X, y, sample_weight=sample_weight)
            est.fit(X, y, sample_weight=sample_weight)
        elif case.schedule == "partial_fit":
            for i, rows in enumerate(np.array_split(np.arange(X.shape[0]), 4)):
                extra = {}
                if i == 0 and isinstance(est, (FNNClassifier, MLPClassifier)):
                    # multilabel ignores the value, but both require one on the first call
                    extra["classes"] = np.unique(y) if y.ndim == 1 else np.arange(y.shape[1])
                sw = None if sample_weight is None else sample_weight[rows]
                est.partial_fit(X[rows], y[rows], sample_weight=sw, **extra)
        else:  # pragma: no cover
            raise ValueError(case.schedule)
    return Run(est, {w.category for w in caught}, out.getvalue())


def fit_both(case):
    """Fit skfnn and scikit-learn the same way; return ``(ours, ref, X)`` as :class:`Run`."""
    X, y = make_data(case.task)
    X = X.astype(case.dtype)
    if case.sparse:
        X[np.abs(X) < 0.5] = 0.0
        X = sp.csr_matrix(X)
    sample_weight = None
    if case.sample_weight:
        sample_weight = np.random.RandomState(1).uniform(0.2, 3.0, X.shape[0])
    ours, ref = estimators(case.task, **case.params)
    return _run(ours, case, X, y, sample_weight), _run(ref, case, X, y, sample_weight), X


def _assert_close_or_none(a, b, what, **tol):
    if b is None:
        assert a is None, f"{what}: skfnn {a!r}, scikit-learn None"
    else:
        assert a is not None, f"{what}: skfnn None, scikit-learn {b!r}"
        assert_allclose(a, b, err_msg=what, **tol)


def assert_same_fit(ours, ref, X, *, rtol, atol, loss_factor=1.0):
    """Every fitted attribute, prediction and probability of the pair agrees.

    ``loss_factor`` scales scikit-learn's reported losses (multi-output squared
    error: skfnn sums over outputs where scikit-learn averages; see
    test_multi_output_loss_is_the_objective_the_updates_descend). With
    ``loss_factor=None`` the reported losses are not compared at all.
    """
    tol = dict(rtol=rtol, atol=atol)
    assert len(ours.coefs_) == len(ref.coefs_)
    for l, (p, q) in enumerate(zip(ours.coefs_, ref.coefs_, strict=True), start=1):
        assert p.dtype == q.dtype, f"coefs_[{l - 1}] dtype"
        assert_allclose(p, q, err_msg=f"coefs_[{l - 1}]", **tol)
    for l, (p, q) in enumerate(zip(ours.intercepts_, ref.intercepts_, strict=True), start=1):
        assert p.dtype == q.dtype, f"intercepts_[{l - 1}] dtype"
        assert_allclose(p, q, err_msg=f"intercepts_[{l - 1}]", **tol)
    for name in ("n_iter_", "t_", "n_layers_", "n_outputs_", "out_activation_",
                 "n_features_in_"):
        assert getattr(ours, name) == getattr(ref, name), name
    if hasattr(ref, "classes_"):
        assert_array_equal(ours.classes_, ref.classes_)
    if loss_factor is not None:
        assert_allclose(ours.loss_, loss_factor * ref.loss_, err_msg="loss_", **tol)
    if hasattr(ref, "loss_curve_"):  # scikit-learn's lbfgs records no curve
        if loss_factor is not None:
            assert len(ours.loss_curve_) == len(ref.loss_curve_)
            assert_allclose(ours.loss_curve_, loss_factor * np.asarray(ref.loss_curve_),
                            err_msg="loss_curve_", **tol)
            best = ref.best_loss_
            _assert_close_or_none(ours.best_loss_, None if best is None else loss_factor * best,
                                  "best_loss_", **tol)
        _assert_close_or_none(ours.validation_scores_, ref.validation_scores_,
                              "validation_scores_", **tol)
        _assert_close_or_none(ours.best_validation_score_, ref.best_validation_score_,
                              "best_validation_score_", **tol)
    if hasattr(ref, "predict_proba"):
        assert_array_equal(ours.predict(X), ref.predict(X))
        assert_allclose(ours.predict_proba(X), ref.predict_proba(X), err_msg="predict_proba",
                        **tol)
    else:
        prediction = ours.predict(X)
        assert prediction.shape == ref.predict(X).shape
        assert_allclose(prediction, ref.predict(X), err_msg="predict", **tol)


# ----------------------------------------------------------------------
# The parity matrix
# ----------------------------------------------------------------------
def _cases():
    cases = []
    add = cases.append

    # Each hidden activation, with each solver, in regression and classification.
    for act in ("identity", "logistic", "tanh", "relu"):
        for solver in ("sgd", "adam", "lbfgs"):
            for task in ("regression", "multiclass"):
                add(Case(f"{act}-{solver}-{task}", task,
                         dict(BASE, hidden_layer_sizes=(6, 4), activation=act, solver=solver)))

    # Every task the libraries share, with every solver (multi-output squared
    # error is compared with skfnn's loss = n_outputs x scikit-learn's, alpha=0).
    for task in ("regression", "poisson", "binary", "multiclass", "multilabel"):
        for solver in ("sgd", "adam", "lbfgs"):
            add(Case(f"task-{task}-{solver}", task, dict(BASE, solver=solver)))
    for solver in ("sgd", "adam"):
        add(Case(f"task-regression_multi-{solver}-alpha0", "regression_multi",
                 dict(BASE, solver=solver, alpha=0.0), expect={"loss_factor": N_OUTPUTS}))
        add(Case(f"task-regression_multi-{solver}-alpha1", "regression_multi",
                 dict(BASE, solver=solver, alpha=1.0), expect={"loss_factor": None}))

    # SGD: momentum 0 / 0.9 / 0.9 + Nesterov, with each learning-rate schedule.
    # "adaptive" gets a tol that no epoch meets, so the rate is divided (checked
    # through the verbose output, which says so).
    for schedule in ("constant", "invscaling", "adaptive"):
        for momentum, nesterov in ((0.0, False), (0.9, False), (0.9, True)):
            params = dict(BASE, solver="sgd", learning_rate=schedule, momentum=momentum,
                          nesterovs_momentum=nesterov)
            expect = {}
            if schedule == "adaptive":
                params.update(tol=0.5, n_iter_no_change=2, verbose=True)
                expect["stdout_contains"] = "Setting learning rate to"
            name = f"sgd-{schedule}-momentum{momentum}{'-nesterov' if nesterov else ''}"
            add(Case(name, "regression", params, expect=expect))
    add(Case("sgd-invscaling-power_t0.3-multiclass", "multiclass",
             dict(BASE, solver="sgd", learning_rate="invscaling", power_t=0.3,
                  learning_rate_init=0.1)))
    add(Case("adam-betas-epsilon", "regression",
             dict(BASE, solver="adam", beta_1=0.8, beta_2=0.99, epsilon=1e-6)))

    # Early stopping: validation scores, best score, restored best weights.
    for task in ("regression", "binary", "multiclass", "multilabel"):
        for solver in ("sgd", "adam"):
            # (the classifiers stop well before max_iter, so the best weights
            # are restored from an earlier epoch)
            add(Case(f"early_stopping-{task}-{solver}", task,
                     dict(BASE, solver=solver, early_stopping=True, max_iter=50,
                          n_iter_no_change=3, validation_fraction=0.2, learning_rate_init=0.05),
                     expect={"stops_early": task != "regression"}))

    # Shuffling and minibatches smaller than n.
    for task in ("regression", "multiclass"):
        for solver in ("sgd", "adam"):
            for shuffle in (True, False):
                add(Case(f"batch16-shuffle{shuffle}-{task}-{solver}", task,
                         dict(BASE, solver=solver, shuffle=shuffle, batch_size=16)))

    # float32 and sparse (CSR) X, for every task and solver (float32 + lbfgs
    # deliberately differs: test_lbfgs_float32_stays_float32).
    for task in ("regression", "poisson", "binary", "multiclass", "multilabel"):
        for solver in ("sgd", "adam", "lbfgs"):
            for dtype, sparse in ((np.float32, False), (np.float64, True), (np.float32, True)):
                if dtype is np.float32 and solver == "lbfgs":
                    continue
                name = f"{np.dtype(dtype).name}{'-csr' if sparse else ''}-{task}-{solver}"
                add(Case(name, task, dict(BASE, solver=solver, batch_size=32), dtype=dtype,
                         sparse=sparse))
    for solver in ("sgd", "adam"):
        add(Case(f"float32-regression_multi-{solver}-alpha0", "regression_multi",
                 dict(BASE, solver=solver, alpha=0.0), dtype=np.float32,
                 expect={"loss_factor": N_OUTPUTS}))

    # sample_weight, with and without early stopping.
    for task in ("regression", "poisson", "binary", "multiclass", "multilabel"):
        for solver in ("sgd", "adam", "lbfgs"):
            add(Case(f"sample_weight-{task}-{solver}", task, dict(BASE, solver=solver),
                     sample_weight=True))
    for task in ("regression", "multiclass"):
        add(Case(f"sample_weight-early_stopping-{task}", task,
                 dict(BASE, solver="adam", early_stopping=True, max_iter=50, n_iter_no_change=3,
                      validation_fraction=0.2, learning_rate_init=0.05), sample_weight=True))

    # warm_start: two successive fits; coefs_, loss_curve_ and t_ accumulate.
    for task in ("regression", "multiclass", "multilabel"):
        for solver in ("sgd", "adam", "lbfgs"):
            add(Case(f"warm_start-{task}-{solver}", task,
                     dict(BASE, solver=solver, max_iter=15), schedule="warm_start",
                     expect={"accumulates": True}))

    # partial_fit: four calls on successive chunks (classes= on the first call).
    for task in ("regression", "poisson", "binary", "multiclass", "multilabel"):
        for solver in ("sgd", "adam"):
            add(Case(f"partial_fit-{task}-{solver}", task,
                     dict(BASE, solver=solver, batch_size=10), schedule="partial_fit"))
    add(Case("partial_fit-sample_weight-multiclass", "multiclass",
             dict(BASE, solver="sgd", batch_size=10), schedule="partial_fit",
             sample_weight=True))

    # Stopping: tol reached (no warning), max_iter reached (ConvergenceWarning),
    # n_iter_no_change=np.inf (always max_iter epochs), lbfgs max_iter.
    for solver in ("sgd", "adam"):
        add(Case(f"stops_on_tol-{solver}", "regression",
                 dict(BASE, solver=solver, tol=0.05, n_iter_no_change=2, max_iter=200),
                 expect={"warnings": set(), "stops_early": True}))
        add(Case(f"max_iter_reached-{solver}", "regression", dict(BASE, solver=solver),
                 expect={"warnings": {ConvergenceWarning}}))
        add(Case(f"n_iter_no_change_inf-{solver}", "regression",
                 dict(BASE, solver=solver, tol=10.0, n_iter_no_change=np.inf),
                 expect={"n_iter_": BASE["max_iter"], "warnings": {ConvergenceWarning}}))
    add(Case("lbfgs-max_iter_reached", "regression", dict(BASE, solver="lbfgs", max_iter=5),
             expect={"warnings": {ConvergenceWarning}, "n_iter_": 5}))
    add(Case("lbfgs-converged", "binary",
             dict(BASE, solver="lbfgs", max_iter=500, tol=1e-3, alpha=1.0),
             expect={"warnings": set()}))

    # verbose: the printed progress is the same, line for line.
    add(Case("verbose-sgd", "regression", dict(BASE, solver="sgd", verbose=True, max_iter=5)))
    add(Case("verbose-early_stopping", "multiclass",
             dict(BASE, solver="sgd", verbose=True, early_stopping=True, n_iter_no_change=2,
                  validation_fraction=0.2)))
    add(Case("verbose-adam-stops_on_tol", "regression",
             dict(BASE, solver="adam", verbose=True, tol=0.05, n_iter_no_change=2,
                  max_iter=200), expect={"stdout_contains": "Stopping."}))

    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    return cases


CASES = _cases()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_parity(case):
    ours, ref, X = fit_both(case)
    tol = TOLERANCES[case.dtype]
    assert_same_fit(ours.est, ref.est, X, loss_factor=case.expect.get("loss_factor", 1.0), **tol)

    # The same kinds of warnings (ConvergenceWarning exactly when max_iter is reached).
    assert ours.warnings == ref.warnings
    if "warnings" in case.expect:
        assert ours.warnings == case.expect["warnings"]
    # The same progress report, line for line.
    assert ours.stdout.splitlines() == ref.stdout.splitlines()
    if "stdout_contains" in case.expect:
        assert case.expect["stdout_contains"] in ours.stdout
    if "n_iter_" in case.expect:
        assert ours.est.n_iter_ == case.expect["n_iter_"]
    max_iter = case.params["max_iter"]
    if case.expect.get("stops_early"):
        assert ours.est.n_iter_ < max_iter
    if case.expect.get("accumulates"):
        n = X.shape[0]
        if case.params["solver"] == "lbfgs":
            # skfnn records lbfgs's curve too (test_lbfgs_records_loss_curve_and_prints)
            assert len(ours.est.loss_curve_) > ours.est.n_iter_
        else:
            assert len(ours.est.loss_curve_) == 2 * max_iter
            assert ours.est.t_ == 2 * max_iter * n
    if case.sparse:
        assert sp.issparse(X)
    if case.dtype is np.float32:
        assert all(p.dtype == np.float32 for p in ours.est.coefs_ + ours.est.intercepts_)


# ----------------------------------------------------------------------
# Same API
# ----------------------------------------------------------------------
# The parameters skfnn adds beside ``loss`` (checked below), with the defaults that
# keep scikit-learn's behaviour.
ADDED = {"out_activation": "auto", "scoring": None, "dropout": 0.0, "init": "glorot_uniform",
         "weight_decay": 0.01, "rho": 0.9, "warmup_epochs": 0, "clip_norm": None}
ADDED_TO = {FNNRegressor: {**ADDED, "quantile": None},
            FNNClassifier: {**ADDED, "class_weight": None}}


@pytest.mark.parametrize("ours, ref", [(FNNRegressor, MLPRegressor),
                                       (FNNClassifier, MLPClassifier)])
def test_same_parameters_and_defaults(ours, ref):
    """Every scikit-learn parameter exists with the same default; skfnn adds a few,
    whose defaults keep scikit-learn's behaviour."""
    ours_params = inspect.signature(ours).parameters
    ref_params = inspect.signature(ref).parameters
    added = {"loss", *ADDED_TO[ours]} - set(ref_params)
    assert set(ours_params) - set(ref_params) == added
    for name, default in ADDED_TO[ours].items():
        assert ours_params[name].default == default, name
    for name, p in ref_params.items():
        assert ours_params[name].default == p.default, name
    assert ours().get_params()["loss"] == ref().get_params().get("loss", "log_loss")


def test_regressor_first_positional_parameter_is_hidden_layer_sizes():
    # scikit-learn's MLPRegressor takes loss first; skfnn keeps the
    # classifier's order, so MLPClassifier-style positional calls work for both.
    assert list(inspect.signature(FNNRegressor).parameters)[:2] == [
        "hidden_layer_sizes", "activation"]
    assert list(inspect.signature(MLPRegressor).parameters)[:2] == [
        "loss", "hidden_layer_sizes"]
    assert FNNRegressor((7,)).hidden_layer_sizes == (7,)
    assert MLPRegressor((7,)).loss == (7,)


def test_verbose_sgd_prints_the_same(capsys):
    X, y = make_data("regression")
    params = dict(BASE, solver="sgd", verbose=True, max_iter=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPRegressor(**params).fit(X, y)
        ref_out = capsys.readouterr().out
        FNNRegressor(**params).fit(X, y)
        ours_out = capsys.readouterr().out
    assert ours_out.splitlines() == ref_out.splitlines()
    assert [line.split(",")[0] for line in ours_out.splitlines()] == [
        f"Iteration {i}" for i in range(1, 5)]


# ----------------------------------------------------------------------
# Deliberate differences (docs/differences.md)
# ----------------------------------------------------------------------
def _reported_loss(est, X, y, coefs, intercepts):
    """The loss ``est`` reports for one full-batch step taken from the given weights.

    Uses only public API: the weights are written into a copy's ``coefs_`` /
    ``intercepts_``, and ``partial_fit`` reports the loss of its (single)
    batch, evaluated before the update.
    """
    est = copy.deepcopy(est)
    for p, v in zip(est.coefs_ + est.intercepts_, list(coefs) + list(intercepts), strict=True):
        p[...] = v
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        est.partial_fit(X, y)
    return est.loss_


def _update_direction_and_fd_gradient(Estimator, X, y, eps=1e-6, **params):
    """(−Δθ/η of one plain gradient step, central differences of the reported loss)."""
    est = Estimator(**params).partial_fit(X, y)  # initialise (and take one step)
    theta0 = [p.copy() for p in est.coefs_ + est.intercepts_]
    L = len(est.coefs_)
    stepped = copy.deepcopy(est).partial_fit(X, y)
    eta = params["learning_rate_init"]
    update = np.concatenate([(q - p).ravel() for p, q in
                             zip(theta0, stepped.coefs_ + stepped.intercepts_, strict=True)]) / -eta
    fd = []
    for k, p in enumerate(theta0):
        for i in np.ndindex(p.shape):
            J = []
            for step in (eps, -eps):
                point = [q.copy() for q in theta0]
                point[k][i] += step
                J.append(_reported_loss(est, X, y, point[:L], point[L:]))
            fd.append((J[0] - J[1]) / (2 * eps))
    return update, np.array(fd)


def test_multi_output_loss_is_the_objective_the_updates_descend():
    """(a) skfnn's reported multi-output squared error is the function its
    updates descend; scikit-learn's is the mean over outputs while its updates
    descend the sum (scikit-learn issue #8349)."""
    X, y = make_data("regression_multi", n=40)
    X = X[:, :3]
    params = dict(hidden_layer_sizes=(3,), activation="tanh", solver="sgd", momentum=0.0,
                  learning_rate_init=1e-3, batch_size=40, shuffle=False, alpha=0.5,
                  random_state=0)
    ours_update, ours_fd = _update_direction_and_fd_gradient(FNNRegressor, X, y, **params)
    ref_update, ref_fd = _update_direction_and_fd_gradient(MLPRegressor, X, y, **params)
    # Both take the same step ...
    assert_allclose(ours_update, ref_update, rtol=1e-9, atol=1e-12)
    # ... which is −η ∇(skfnn's reported loss),
    assert_allclose(ours_update, ours_fd, rtol=1e-5, atol=1e-7)
    # ... but not −η ∇(scikit-learn's reported loss).
    assert not np.allclose(ref_update, ref_fd, rtol=1e-2)

    # The two reported losses: skfnn sums the data term over outputs,
    # scikit-learn averages it; the L2 term is the same.
    ours = FNNRegressor(**dict(params, alpha=0.0)).partial_fit(X, y)
    ref = MLPRegressor(**dict(params, alpha=0.0)).partial_fit(X, y)
    assert_allclose(ours.loss_, N_OUTPUTS * ref.loss_, rtol=1e-12)

    # check_gradients confirms the same for any configuration, e.g. lbfgs,
    # whose line search relies on the loss and the gradient agreeing.
    est = FNNRegressor((4,), solver="lbfgs", max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    assert check_gradients(est, X, y).passed
    residual = est.predict(X) - y
    penalty = 0.5 * est.alpha * sum((W**2).sum() for W in est.coefs_) / X.shape[0]
    assert est.loss_ == pytest.approx(0.5 * (residual**2).sum(axis=1).mean() + penalty,
                                      rel=1e-10)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_multi_output_stochastic_same_weights_loss_scaled(solver):
    """(a) The stochastic solvers do not use the loss value: identical weights,
    and with alpha=0 skfnn's loss_curve_ is exactly n_outputs × scikit-learn's."""
    case = Case("multi", "regression_multi", dict(BASE, solver=solver, alpha=0.0))
    ours, ref, X = fit_both(case)
    assert_same_fit(ours.est, ref.est, X, loss_factor=N_OUTPUTS, **TOLERANCES[np.float64])


def test_multi_output_lbfgs_follows_the_consistent_objective():
    """(a) L-BFGS's line search uses the loss value, so with several outputs the
    two libraries take different paths: skfnn's is the one consistent with its
    gradient."""
    case = Case("multi-lbfgs", "regression_multi", dict(BASE, solver="lbfgs"))
    ours, ref, X = fit_both(case)
    assert not np.allclose(ours.est.coefs_[0], ref.est.coefs_[0], rtol=1e-3)
    X_, y = make_data("regression_multi")
    assert check_gradients(ours.est, X_, y).passed
    # scikit-learn's own reported loss is the mean over outputs of the data term.
    residual = ref.est.predict(X_) - y
    penalty = 0.5 * ref.est.alpha * sum((W**2).sum() for W in ref.est.coefs_) / X_.shape[0]
    assert ref.est.loss_ == pytest.approx(0.5 * (residual**2).mean(axis=0).mean() + penalty,
                                          rel=1e-10)


def test_lbfgs_regressor_has_no_partial_fit():
    """(b) partial_fit only exists for the stochastic solvers; scikit-learn's
    MLPRegressor offers it for lbfgs too (its availability check is never
    called) and then runs a full L-BFGS fit."""
    assert not hasattr(FNNRegressor(solver="lbfgs"), "partial_fit")
    assert not hasattr(FNNClassifier(solver="lbfgs"), "partial_fit")
    assert hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    for solver in ("sgd", "adam"):
        assert hasattr(FNNRegressor(solver=solver), "partial_fit")


def test_poisson_rejects_negative_targets():
    """(c) Negative counts are outside the Poisson loss's domain: skfnn raises;
    scikit-learn trains and reports a NaN loss."""
    X, y = make_data("regression")
    assert (y < 0).any()
    params = dict(BASE, loss="poisson", solver="sgd", max_iter=5)
    with pytest.raises(ValueError, match="negative"):
        FNNRegressor(**params).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = MLPRegressor(**params).fit(X, y)
    assert np.isnan(ref.loss_)


def test_lbfgs_records_loss_curve_and_prints(capsys):
    """(d) lbfgs records loss_curve_ (one value per iteration, the last is
    loss_) and prints its progress with verbose=True; scikit-learn does neither
    (no loss_curve_, nothing on Python's stdout)."""
    X, y = make_data("multiclass")
    params = dict(BASE, solver="lbfgs", max_iter=25, verbose=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = FNNClassifier(**params).fit(X, y)
        ours_out = capsys.readouterr().out
        ref = MLPClassifier(**params).fit(X, y)
        ref_out = capsys.readouterr().out
    assert len(ours.loss_curve_) == ours.n_iter_ == ref.n_iter_ == 25
    assert ours.loss_curve_[-1] == pytest.approx(ours.loss_, rel=1e-12)
    assert ours.loss_ == pytest.approx(ref.loss_, rel=1e-6)
    assert np.all(np.diff(ours.loss_curve_) <= 0)  # a descent method
    assert ours.best_loss_ == min(ours.loss_curve_)
    lines = ours_out.splitlines()
    assert [line.split(",")[0] for line in lines] == [f"Iteration {i}" for i in range(1, 26)]
    assert lines[-1] == "Iteration 25, loss = %.8f" % ours.loss_curve_[-1]  # noqa: UP031
    assert not hasattr(ref, "loss_curve_")
    assert "Iteration" not in ref_out


def test_warm_start_from_lbfgs_to_a_stochastic_solver():
    """(d) Because lbfgs records loss_curve_, a warm start can switch from lbfgs
    to sgd / adam and the curve continues; scikit-learn's lbfgs fit leaves no
    loss_curve_ and the stochastic fit then fails with an AttributeError."""
    X, y = make_data("regression")
    params = dict(BASE, solver="lbfgs", max_iter=10, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = FNNRegressor(**params).fit(X, y)
        first = list(ours.loss_curve_)
        ours.set_params(solver="sgd").fit(X, y)
        assert ours.loss_curve_[:len(first)] == first
        assert len(ours.loss_curve_) == len(first) + 10
        ref = MLPRegressor(**params).fit(X, y)
        with pytest.raises(AttributeError, match="loss_curve_"):
            ref.set_params(solver="sgd").fit(X, y)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_warm_start_early_stopping_restores_the_best_weights(solver):
    """A warm-started fit with early stopping that never beats the previous
    best validation score ends on the previous best weights. scikit-learn's
    restored coefs_ are the very arrays it keeps as its best weights, so the
    next fit trains them in place and it returns the last epoch's weights."""
    X, y = make_data("multiclass")
    params = dict(BASE, solver=solver, early_stopping=True, warm_start=True, max_iter=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = FNNClassifier(**params).fit(X, y)
        ref = MLPClassifier(**params).fit(X, y)
        assert_same_fit(ours, ref, X, **TOLERANCES[np.float64])  # the first fit agrees
        best = [p.copy() for p in ours.coefs_ + ours.intercepts_]
        best_score = ours.best_validation_score_
        ours.fit(X, y)
        ref.fit(X, y)
    # no new best in the second fit (the no-improvement count carried over) ...
    assert ours.best_validation_score_ == ref.best_validation_score_ == best_score
    assert ours.validation_scores_ == ref.validation_scores_
    # ... so skfnn returns the best weights, scikit-learn the last epoch's.
    for p, q in zip(ours.coefs_ + ours.intercepts_, best, strict=True):
        assert_array_equal(p, q)
    assert not all(np.array_equal(p, q) for p, q in zip(ref.coefs_ + ref.intercepts_,
                                                        best, strict=True))


def test_warm_start_with_changed_architecture_raises():
    """(e) warm_start with other hidden_layer_sizes raises; scikit-learn keeps
    the old architecture silently (same depth) or fails with an unrelated
    error (lbfgs, or a different depth)."""
    X, y = make_data("regression")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for solver in ("sgd", "lbfgs"):
            for new in ((7,), (5, 3)):
                est = FNNRegressor((5,), solver=solver, max_iter=5, warm_start=True,
                                   random_state=0).fit(X, y)
                est.set_params(hidden_layer_sizes=new)
                with pytest.raises(ValueError, match="hidden_layer_sizes"):
                    est.fit(X, y)
                assert [W.shape for W in est.coefs_] == [(N_FEATURES, 5), (5, 1)]

        ref = MLPRegressor(hidden_layer_sizes=(5,), solver="sgd", max_iter=5,
                           warm_start=True, random_state=0).fit(X, y)
        ref.set_params(hidden_layer_sizes=(7,))
        ref.fit(X, y)  # no error: the (7,) request is ignored
        assert [W.shape for W in ref.coefs_] == [(N_FEATURES, 5), (5, 1)]
        ref = MLPRegressor(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=5,
                           warm_start=True, random_state=0).fit(X, y)
        ref.set_params(hidden_layer_sizes=(7,))
        with pytest.raises(ValueError, match="reshape"):
            ref.fit(X, y)
        ref = MLPRegressor(hidden_layer_sizes=(5,), solver="sgd", max_iter=5,
                           warm_start=True, random_state=0).fit(X, y)
        ref.set_params(hidden_layer_sizes=(5, 3))
        with pytest.raises(TypeError):
            ref.fit(X, y)


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_predict_log_proba_finite_where_proba_underflows(task):
    """(f) predict_log_proba is computed from the logits: equal to
    log(predict_proba) where that is finite, finite where a probability
    underflows to 0 (scikit-learn returns -inf there)."""
    X, y = make_data(task)
    params = dict(BASE, activation="tanh", solver="adam", max_iter=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = FNNClassifier(**params).fit(X, y)
        ref = MLPClassifier(**params).fit(X, y)
    # An ordinary network: the same as log(predict_proba), and as scikit-learn's.
    log_p = est.predict_log_proba(X)
    assert np.isfinite(log_p).all()
    assert_allclose(log_p, np.log(est.predict_proba(X)), rtol=1e-10, atol=1e-12)
    assert_allclose(log_p, ref.predict_log_proba(X), rtol=1e-6, atol=1e-9)

    # Huge output weights: probabilities underflow to exactly 0.
    for model in (est, ref):
        model.coefs_[-1][...] *= 1e4
        model.intercepts_[-1][...] *= 1e4
    with np.errstate(divide="ignore", over="ignore"):
        proba = est.predict_proba(X)
        log_p = est.predict_log_proba(X)
        ref_log_p = ref.predict_log_proba(X)
    underflow = proba == 0
    assert underflow.any()
    assert np.isfinite(log_p).all()
    # log P < log(eps): beyond what 1 - P or a softmax can still resolve
    assert (log_p[underflow] < np.log(np.finfo(np.float64).eps)).all()
    assert np.isneginf(ref_log_p[underflow]).all()
    resolved = proba > 1e-8
    assert_allclose(log_p[resolved], np.log(proba[resolved]), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("task", ["regression", "multiclass"])
def test_lbfgs_float32_stays_float32(task):
    """L-BFGS on float32 X evaluates the objective and its gradient in float32
    and returns float32 weights (float32 end to end). scikit-learn returns
    float64 coefs_ from the same fit (its regressor also keeps y, hence the
    loss, in float64), so the two agree to float32 accuracy, not bit for bit."""
    X, y = make_data(task)
    X32 = X.astype(np.float32)
    ours, ref = estimators(task, **dict(BASE, solver="lbfgs", max_iter=10))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X32, y)
        ref.fit(X32, y)
    assert all(p.dtype == np.float32 for p in ours.coefs_ + ours.intercepts_)
    assert all(p.dtype == np.float64 for p in ref.coefs_ + ref.intercepts_)
    output = ours.predict(X32) if task in REGRESSION_TASKS else ours.predict_proba(X32)
    assert output.dtype == np.float32
    assert ours.n_iter_ == ref.n_iter_
    assert ours.loss_ == pytest.approx(ref.loss_, rel=1e-4)
    for p, q in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_, strict=True):
        assert_allclose(p, q, rtol=1e-2, atol=1e-3)

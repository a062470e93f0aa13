"""Activations and losses of the user's own: plain (duck-typed) objects work everywhere
a built-in does, and the contract of their results (shape, dtype, finiteness, δ^L
against the chain rule) is checked, so that a broken object is an error naming it,
never a wrong gradient."""

import pickle
from unittest import mock

import numpy as np
import pytest
from helpers import (
    SOLVERS,
    STOCHASTIC,
    BrokenSquaredError,
    BrokenTanh,
    PlainSquaredError,
    PlainTanh,
    assert_same_model,
    forward_by_hand,
    regression_data,
    squared_error_objective,
)
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.model_selection import GridSearchCV

import skfnn
from skfnn import Activation, FNNRegressor, check_gradients
from skfnn import activations as skfnn_activations
from skfnn import losses as skfnn_losses

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# ======================================================================
# Duck-typed objects work
# ======================================================================
def test_the_plain_classes_really_have_only_the_required_methods():
    optional_activation = set(skfnn_activations.OPTIONAL_ATTRIBUTES)
    optional_loss = set(skfnn_losses.OPTIONAL_ATTRIBUTES)
    assert not any(hasattr(PlainTanh(), name) for name in optional_activation)
    assert not any(hasattr(PlainSquaredError(), name) for name in optional_loss)
    assert not isinstance(PlainTanh(), Activation)
    assert not isinstance(PlainSquaredError(), skfnn.Loss)


def test_optional_defaults_are_the_base_classes_defaults():
    # A plain object gets exactly what a subclass of the base class inherits.
    for name, default in skfnn_activations.OPTIONAL_ATTRIBUTES.items():
        assert skfnn_activations.optional(PlainTanh(), name) == default
        # vjp: the base class's method computes g ⊙ σ'(z), what the default None means.
        if name not in ("name", "forward_into", "multiply_derivative", "vjp"):
            assert getattr(Activation, name) == default, name
    for name, default in skfnn_losses.OPTIONAL_ATTRIBUTES.items():
        assert skfnn_losses.optional(PlainSquaredError(), name) == default
        if name not in ("name", "check_target"):
            assert getattr(skfnn.Loss, name) == default, name


def plain_and_builtin(**params):
    """The same regressor twice: with the plain objects, and with the built-ins."""
    plain = FNNRegressor(activation=PlainTanh(), loss=PlainSquaredError(), **params)
    builtin = FNNRegressor(activation="tanh", loss="squared_error", **params)
    return plain, builtin


@pytest.mark.parametrize("solver", SOLVERS)
def test_plain_objects_fit_like_the_builtins_and_predict_from_coefs(solver):
    X, y = regression_data()
    params = dict(hidden_layer_sizes=(5,), solver=solver, max_iter=15, alpha=0.01,
                  learning_rate_init=0.01, random_state=0)
    plain, builtin = (e.fit(X, y) for e in plain_and_builtin(**params))
    assert_same_model(plain, builtin, rtol=1e-9, atol=1e-12)
    by_hand = forward_by_hand(X, plain.coefs_, plain.intercepts_, np.tanh, lambda z: z)
    assert_allclose(plain.predict(X), by_hand.ravel(), rtol=1e-12)
    assert plain.out_activation_ == "identity"  # the loss's default_out_activation default
    if solver == "lbfgs":
        J = squared_error_objective(X, y, plain.coefs_, plain.intercepts_, 0.01)
        assert plain.loss_ == pytest.approx(J, rel=1e-10)


def test_plain_activation_is_initialised_with_the_default_init_factor():
    # Glorot-uniform with the documented default numerator 6: W¹ is the first draw
    # of U(±√(6 / (fan_in + fan_out))), as scikit-learn draws it.
    X, y = regression_data()
    est = FNNRegressor((5,), activation=PlainTanh(), solver="sgd", learning_rate_init=1e-300,
                       max_iter=1, random_state=0).fit(X, y)
    bound = np.sqrt(6.0 / (4 + 5))
    assert_allclose(est.coefs_[0], np.random.RandomState(0).uniform(-bound, bound, (4, 5)),
                    rtol=1e-12)


@pytest.mark.parametrize("solver", STOCHASTIC)
def test_plain_objects_partial_fit_like_the_builtins(solver):
    X, y = regression_data()
    plain, builtin = plain_and_builtin(hidden_layer_sizes=(5,), solver=solver,
                                       learning_rate_init=0.01, random_state=0)
    for start in (0, 20, 40):
        plain.partial_fit(X[start:start + 20], y[start:start + 20])
        builtin.partial_fit(X[start:start + 20], y[start:start + 20])
    assert_same_model(plain, builtin, rtol=1e-10, atol=1e-13)
    assert plain.t_ == builtin.t_ == 60


@pytest.mark.parametrize("solver", SOLVERS)
def test_plain_objects_warm_start_like_the_builtins(solver):
    X, y = regression_data()
    plain, builtin = plain_and_builtin(hidden_layer_sizes=(5,), solver=solver, max_iter=5,
                                       warm_start=True, learning_rate_init=0.01,
                                       random_state=0)
    for _ in range(3):
        plain.fit(X, y)
        builtin.fit(X, y)
    assert_same_model(plain, builtin, rtol=1e-8, atol=1e-11)
    assert len(plain.loss_curve_) == len(builtin.loss_curve_)


def test_plain_objects_in_check_gradients_give_the_builtins_gradient():
    X, y = regression_data(n=20)
    plain, builtin = plain_and_builtin(hidden_layer_sizes=(4,), alpha=0.1, random_state=0)
    ours, theirs = check_gradients(plain, X, y), check_gradients(builtin, X, y)
    assert ours.passed
    assert_allclose(ours.gradient, theirs.gradient, rtol=1e-12, atol=1e-15)
    assert ours.loss == pytest.approx(theirs.loss, rel=1e-12)


def test_plain_objects_in_check_activation_and_check_loss():
    from skfnn import check_activation, check_loss

    assert check_activation(PlainTanh()).passed
    # The same points for the plain loss and its built-in twin: the same verdict.
    assert check_loss(PlainSquaredError()).passed
    assert check_loss("squared_error").passed


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_plain_objects_in_grid_search(n_jobs):
    X, y = regression_data()
    grid = {"alpha": [1e-4, 1e-1]}
    results = []
    for est in plain_and_builtin(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=20,
                                 random_state=0):
        search = GridSearchCV(est, grid, cv=3, n_jobs=n_jobs).fit(X, y)
        results.append(search.cv_results_["mean_test_score"])
        assert isinstance(search.best_estimator_.activation, (PlainTanh, str))
    assert_allclose(results[0], results[1], rtol=1e-8)


def test_plain_objects_pickle_and_training_continues_identically():
    X, y = regression_data()
    est = FNNRegressor((5,), activation=PlainTanh(), loss=PlainSquaredError(),
                       solver="adam", max_iter=5, warm_start=True, random_state=0).fit(X, y)
    loaded = pickle.loads(pickle.dumps(est))
    assert isinstance(loaded.activation, PlainTanh)
    assert_array_equal(loaded.predict(X), est.predict(X))
    est.fit(X, y)
    loaded.fit(X, y)
    assert_same_model(loaded, est)


def test_plain_objects_as_hidden_and_output_activation_of_a_regressor():
    X, y = regression_data()
    target = np.tanh(y)
    est = FNNRegressor((5,), activation=PlainTanh(), out_activation=PlainTanh(),
                       solver="lbfgs", max_iter=50, random_state=0).fit(X, target)
    by_hand = forward_by_hand(X, est.coefs_, est.intercepts_, np.tanh, np.tanh)
    assert_allclose(est.predict(X), by_hand.ravel(), rtol=1e-12)
    assert isinstance(est.out_activation_, PlainTanh)  # no name: the object itself
    assert est.score(X, target) > 0.9


# ======================================================================
# Shape contracts are checked
# ======================================================================
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize("mode, got", [("column", "(60, 1)"), ("scalar", "()"),
                                       ("transposed", "(3, 60)")])
def test_activation_derivative_of_the_wrong_shape(solver, mode, got):
    X, y = regression_data()
    est = FNNRegressor((3,), activation=BrokenTanh(mode), solver=solver, max_iter=5,
                       random_state=0)
    with pytest.raises(ValueError) as error:
        est.fit(X, y)
    message = str(error.value)
    for part in ("BrokenTanh", "derivative(z, a)", got, "(60, 3)", "layer 1"):
        assert part in message, (part, message)


def test_activation_forward_of_the_wrong_shape():
    X, y = regression_data()
    with pytest.raises(ValueError, match=r"BrokenTanh.*\(60, 1\).*forward\(z\).*\(60, 3\)"):
        FNNRegressor((3,), activation=BrokenTanh("forward_column"), max_iter=2).fit(X, y)


def test_the_wrong_shape_is_reported_by_partial_fit_and_check_gradients():
    X, y = regression_data()
    expected = r"BrokenTanh.*\(60, 1\) from derivative\(z, a\) for z of shape \(60, 3\)"
    with pytest.raises(ValueError, match=expected):
        FNNRegressor((3,), activation=BrokenTanh("column")).partial_fit(X, y)
    with pytest.raises(ValueError, match=expected):
        check_gradients(FNNRegressor((3,), activation=BrokenTanh("column")), X, y)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize("mode, method, got, expected", [
    ("gradient_column", "gradient(y, a)", "(60, 1)", "(60, 2)"),
    ("gradient_scalar", "gradient(y, a)", "()", "(60, 2)"),
    ("gradient_flat", "gradient(y, a)", "(120,)", "(60, 2)"),
    ("delta_flat", "delta(y, z, a, activation)", "(120,)", "(60, 2)"),
    ("delta_transposed", "delta(y, z, a, activation)", "(2, 60)", "(60, 2)"),
])
def test_loss_results_of_the_wrong_shape(solver, mode, method, got, expected):
    X, Y = regression_data(n_outputs=2)
    est = FNNRegressor((4,), loss=BrokenSquaredError(mode), solver=solver, max_iter=5,
                       random_state=0)
    with pytest.raises(ValueError) as error:
        est.fit(X, Y)
    message = str(error.value)
    for part in ("BrokenSquaredError", method, got, expected):
        assert part in message, (part, message)


@pytest.mark.parametrize("mode", ["call_vector", "call_array11"])
def test_loss_call_returning_an_array(mode):
    X, y = regression_data()
    with pytest.raises(ValueError) as error:
        FNNRegressor((4,), loss=BrokenSquaredError(mode), solver="lbfgs",
                     max_iter=5).fit(X, y)
    message = str(error.value)
    assert "BrokenSquaredError" in message and "__call__" in message
    assert "one real number" in message
    assert "0-dimensional" not in message  # not numpy's words


@pytest.mark.parametrize("obj, method", [
    (BrokenTanh("nan"), "derivative(z, a)"),
    (BrokenTanh("forward_inf"), "forward(z)"),
    (BrokenSquaredError("gradient_nan"), "gradient(y, a)"),
    (BrokenSquaredError("call_nan"), "__call__(y, a, sample_weight)"),
])
@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_non_finite_results_are_named(obj, method, solver):
    X, y = regression_data()
    param = "loss" if isinstance(obj, BrokenSquaredError) else "activation"
    est = FNNRegressor((3,), solver=solver, max_iter=5, random_state=0, **{param: obj})
    with pytest.raises(ValueError) as error:
        est.fit(X, y)
    message = str(error.value)
    assert type(obj).__name__ in message and method in message and "non-finite" in message


@pytest.mark.parametrize("obj, method, dtype", [
    (BrokenTanh("complex"), "derivative(z, a)", "complex128"),
    (BrokenTanh("string"), "derivative(z, a)", "<U"),
    (BrokenSquaredError("delta_complex"), "delta(y, z, a, activation)", "complex128"),
    (BrokenSquaredError("call_complex"), "__call__(y, a, sample_weight)", "complex"),
])
def test_complex_or_non_numeric_results_are_named(obj, method, dtype):
    X, y = regression_data()
    param = "loss" if isinstance(obj, BrokenSquaredError) else "activation"
    with pytest.raises(ValueError) as error:
        FNNRegressor((3,), max_iter=5, random_state=0, **{param: obj}).fit(X, y)
    message = str(error.value)
    assert type(obj).__name__ in message and method in message and dtype in message


def test_contract_checks_run_once_per_fit_not_per_step():
    """The hot path stays free: the number of checks does not grow with the epochs."""
    from skfnn import _network

    X, y = regression_data()
    counts = []
    for max_iter in (2, 20):
        with mock.patch.object(_network, "_expect_array",
                               side_effect=_network._expect_array) as spy:
            FNNRegressor((3,), activation=PlainTanh(), loss=PlainSquaredError(),
                         solver="sgd", batch_size=10, max_iter=max_iter, tol=0,
                         n_iter_no_change=np.inf, random_state=0).fit(X, y)
        counts.append(spy.call_count)
    assert counts[0] == counts[1] > 0



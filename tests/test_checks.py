"""The public checks catch what they claim to catch, and pass on every built-in.

check_activation and check_loss run over the whole registries; each check is
also shown to FAIL, with a message naming the problem, on a deliberately wrong
object. check_gradients fails for a network with a wrong derivative, checks
exactly ``max_params`` coordinates in subset mode, and skips (and counts) the
coordinates whose finite-difference step crosses a ReLU kink.

The custom objects are module-level classes, so that they pickle (estimators
are cloned and deep-copied by the checks).
"""

import numpy as np
import pytest

from skfnn import (
    Activation,
    FNNClassifier,
    FNNRegressor,
    GradientCheckError,
    Loss,
    _engine,
    check_activation,
    check_gradients,
    check_loss,
)
from skfnn.activations import ACTIVATIONS
from skfnn.gradcheck import CheckResult
from skfnn.losses import LOSSES, AbsoluteError, SquaredError

# ----------------------------------------------------------------------------
# Deliberately right and wrong objects (module level: they must pickle)
# ----------------------------------------------------------------------------


class PlainTanh(Activation):
    """tanh, written as a user would: right."""

    name = "plain_tanh"

    def forward(self, z):
        return np.tanh(z)

    def derivative(self, z, a):
        return 1 - a**2


class WrongTanh(Activation):
    """tanh with a wrong derivative: 1 − a instead of 1 − a²."""

    name = "wrong_tanh"

    def forward(self, z):
        return np.tanh(z)

    def derivative(self, z, a):
        return 1 - a


class WrongFastPath(Activation):
    """Right forward and derivative, but fast paths that compute something else."""

    name = "wrong_fast_path"

    def forward(self, z):
        return np.tanh(z)

    def derivative(self, z, a):
        return 1 - a**2

    def forward_into(self, z, out):
        return np.maximum(z, 0, out=out)

    def multiply_derivative(self, delta, z, a):
        delta *= 1 - a  # should be 1 − a²
        return delta


class MutatingTanh(Activation):
    """Right values, but derivative squares its argument a in place."""

    name = "mutating_tanh"

    def forward(self, z):
        return np.tanh(z)

    def derivative(self, z, a):
        a **= 2
        return 1 - a


class PromotingTanh(Activation):
    """Right values, but float32 input comes back as float64."""

    name = "promoting_tanh"

    # An explicit cast rather than a float64 scalar: a scalar promotes float32
    # arrays only under numpy >= 2 (NEP 50), and the test must fail on every numpy.
    def forward(self, z):
        return np.tanh(z).astype(np.float64)

    def derivative(self, z, a):
        return (1.0 - a**2).astype(np.float64)


class LogCosh(Loss):
    """ℓ = Σ_k log cosh(a_k − y_k), ∂ℓ/∂a = tanh(a − y): a right user loss."""

    name = "log_cosh"

    def per_sample(self, y, a):
        r = a - y
        return (np.logaddexp(r, -r) - np.log(2)).sum(axis=1)

    def gradient(self, y, a):
        return np.tanh(a - y)


class WrongGradientLoss(Loss):
    """½‖a − y‖² with a gradient twice too large."""

    name = "wrong_gradient"

    def per_sample(self, y, a):
        return 0.5 * ((a - y) ** 2).sum(axis=1)

    def gradient(self, y, a):
        return 2 * (a - y)


class WrongDeltaLoss(SquaredError):
    """Squared error whose delta takes the shortcut a − y for every activation."""

    name = "wrong_delta"

    def delta(self, y, z, a, activation):
        return a - y


class UnweightedLoss(SquaredError):
    """Squared error whose __call__ ignores sample_weight."""

    name = "unweighted"

    def __call__(self, y, a, sample_weight=None):
        return self.per_sample(y, a).mean()


class UnsummedLoss(Loss):
    """per_sample forgets to sum over the outputs."""

    name = "unsummed"

    def per_sample(self, y, a):
        return 0.5 * (a - y) ** 2

    def gradient(self, y, a):
        return a - y


class PositiveTargetLoss(LogCosh):
    """A user loss whose targets must be positive (so the N(0, 1) fallback is rejected)."""

    name = "positive_target"

    def check_target(self, y):
        if np.any(y <= 0):
            raise ValueError("targets must be positive")


# ----------------------------------------------------------------------------
# check_activation
# ----------------------------------------------------------------------------

ELEMENTWISE = [name for name, cls in ACTIVATIONS.items() if cls.elementwise]


def test_registry_has_the_expected_activations():
    assert "softmax" in ACTIVATIONS and "softmax" not in ELEMENTWISE
    assert {"identity", "logistic", "tanh", "relu"} <= set(ELEMENTWISE)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_check_activation_passes_on_every_builtin(name):
    # The registry holds classes: check_activation instantiates them.
    result = check_activation(ACTIVATIONS[name])
    assert isinstance(result, CheckResult)
    assert result.passed and bool(result)
    assert result.max_error < 1e-6
    assert "PASSED" in str(result) and "derivative" in str(result)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_every_builtin_derivative_equals_finite_differences(name):
    # The derivative alone, whatever the dtype checks say.
    result = check_activation(name, raise_on_failure=False)
    (row,) = [r for r in result.rows if r.check == "derivative"]
    assert row.n_checked >= 40
    assert row.max_error < 1e-6
    assert not [p for p in result.problems if "finite difference" in p]


def test_check_activation_accepts_a_name_a_class_and_an_instance():
    for spec in ("tanh", ACTIVATIONS["tanh"], ACTIVATIONS["tanh"](), PlainTanh()):
        assert check_activation(spec).passed


def test_softmax_is_refused_as_not_elementwise():
    with pytest.raises(ValueError, match="Softmax is not elementwise.*check_loss"):
        check_activation("softmax")
    with pytest.raises(ValueError, match="not elementwise"):
        check_activation(ACTIVATIONS["softmax"])


def test_wrong_derivative_fails_with_a_message_naming_it():
    with pytest.raises(GradientCheckError,
                       match=r"derivative of WrongTanh differs from the finite difference of "
                             r"forward at z=\S+ by \S+ \(derivative \S+, finite difference"):
        check_activation(WrongTanh())
    result = check_activation(WrongTanh(), raise_on_failure=False)
    assert not result.passed and not bool(result)
    assert result.max_error > 0.1
    assert "FAILED" in str(result) and "WrongTanh" in str(result)
    with pytest.raises(AssertionError):  # GradientCheckError is an AssertionError
        result.raise_if_failed()


def test_wrong_derivative_is_reported_at_a_given_point():
    result = check_activation(WrongTanh(), points=[1.3], raise_on_failure=False)
    # tanh(1.3) = 0.8617: tanh'(1.3) = 1 − 0.8617² = 0.2574, while 1 − 0.8617 = 0.1383.
    assert result.problems == (
        "derivative of WrongTanh differs from the finite difference of forward at z=1.3 "
        "by 0.1192 (derivative 0.1383, finite difference 0.2574)",
    )


def test_fast_paths_must_agree_with_forward_and_derivative():
    result = check_activation(WrongFastPath(), raise_on_failure=False)
    assert not result.passed
    text = "\n".join(result.problems)
    assert "forward_into of WrongFastPath disagrees with forward" in text
    assert "multiply_derivative of WrongFastPath disagrees with derivative" in text
    assert "derivative of WrongFastPath differs" not in text  # the derivative itself is right


def test_an_input_modified_in_place_is_reported():
    with pytest.raises(GradientCheckError,
                       match="derivative of MutatingTanh modified its input a in place"):
        check_activation(MutatingTanh())


def test_float32_must_stay_float32():
    result = check_activation(PromotingTanh(), raise_on_failure=False)
    assert not result.passed
    assert any("forward of PromotingTanh returned float64 for float32" in p
               for p in result.problems)
    # Only the dtype is wrong: the values are right.
    assert result.max_error < 1e-6


def test_points_at_a_kink_are_skipped_and_counted():
    result = check_activation("relu", points=[-1.0, 0.0, 5e-5, 1.0])
    assert result.passed
    assert result.n_skipped == 2
    (row,) = [r for r in result.rows if r.check == "derivative"]
    assert (row.n_checked, row.n_skipped) == (2, 2)
    # Default points include z = 0 exactly, which is skipped for relu.
    assert check_activation("relu").n_skipped == 1
    assert check_activation("tanh").n_skipped == 0


# ----------------------------------------------------------------------------
# check_loss
# ----------------------------------------------------------------------------

CHAIN_RULE_ACTIVATIONS = ["identity", "tanh", "logistic", "softplus"]


@pytest.mark.parametrize("name", list(LOSSES))
def test_check_loss_passes_on_every_builtin_with_its_default_activation(name):
    result = check_loss(LOSSES[name])  # a class: instantiated by check_loss
    assert result.passed, str(result)
    checks = [r.check for r in result.rows]
    assert checks.count("delta") == 1 and "gradient" in checks and "sample_weight" in checks


@pytest.mark.parametrize("activation", CHAIN_RULE_ACTIVATIONS)
@pytest.mark.parametrize("name", list(LOSSES))
def test_check_loss_passes_on_every_builtin_through_the_chain_rule(name, activation):
    result = check_loss(name, activation=activation)
    assert result.passed
    deltas = {r.activation: r for r in result.rows if r.check == "delta"}
    default = type(ACTIVATIONS[LOSSES[name].default_out_activation]()).__name__
    assert default in deltas
    assert type(ACTIVATIONS[activation]()).__name__ in deltas
    assert all(r.n_checked > 0 and r.max_error < 1e-6 for r in deltas.values())


def test_check_loss_takes_several_activations_at_once():
    result = check_loss("squared_error", activation=CHAIN_RULE_ACTIVATIONS)
    assert [r.activation for r in result.rows if r.check == "delta"] == [
        "Identity", "Tanh", "Logistic", "Softplus"]


def test_softmax_log_loss_delta_is_checked_against_the_full_jacobian():
    # The default output activation of log_loss is softmax; its δ = a − y must
    # match the finite difference of ℓ(y, softmax(z)) through the whole row.
    result = check_loss("log_loss", n_outputs=4)
    (row,) = [r for r in result.rows if r.check == "delta"]
    assert row.activation == "Softmax" and row.n_checked == 8 * 4
    # With rows of y that do not sum to 1 the shortcut a − y is wrong, and caught.
    y = np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    z = np.array([[0.1, -0.4, 0.3], [1.0, 0.2, -0.5]])
    with pytest.raises(GradientCheckError, match="delta of LogLoss with Softmax differs"):
        check_loss("log_loss", y=y, z=z)


def test_a_right_user_loss_passes_with_the_fallback_points():
    assert check_loss(LogCosh(), activation=["tanh", PlainTanh()]).passed


def test_wrong_gradient_fails_with_a_message_naming_it():
    with pytest.raises(GradientCheckError,
                       match=r"gradient of WrongGradientLoss differs from the finite "
                             r"difference of its per-sample loss at y=\S+, a=\S+ "):
        check_loss(WrongGradientLoss())


def test_wrong_delta_override_fails_for_a_non_canonical_activation():
    # a − y is right for the identity output ...
    result = check_loss(WrongDeltaLoss(), raise_on_failure=False)
    assert result.passed
    # ... and wrong for tanh: δ = (a − y)(1 − a²).
    with pytest.raises(GradientCheckError,
                       match=r"delta of WrongDeltaLoss with Tanh differs from the finite "
                             r"difference of ℓ\(y, σ\(z\)\) at y=\S+, z=\S+"):
        check_loss(WrongDeltaLoss(), activation="tanh")
    result = check_loss(WrongDeltaLoss(), activation="tanh", raise_on_failure=False)
    assert [p for p in result.problems if p.startswith("gradient")] == []


def test_a_loss_ignoring_sample_weight_fails():
    with pytest.raises(GradientCheckError,
                       match=r"UnweightedLoss\(y, a, sample_weight\) returned .* weighted mean"):
        check_loss(UnweightedLoss())


def test_per_sample_must_sum_over_outputs():
    with pytest.raises(GradientCheckError, match="per_sample of UnsummedLoss returned an array "
                                                 r"of shape \(8, 3\)"):
        check_loss(UnsummedLoss())


def test_given_points_are_used_and_kinks_skipped():
    y = np.array([[0.0, 1.0], [2.0, -1.0]])
    z = np.array([[0.0, 0.5], [1.0, -3.0]])  # residual a − y = 0 at one entry
    result = check_loss(AbsoluteError(), y=y, z=z)
    assert result.passed
    rows = {(r.check, r.activation): r for r in result.rows}
    assert rows["gradient", "-"].n_skipped == 1
    assert rows["gradient", "-"].n_checked == 3
    assert rows["delta", "Identity"].n_skipped == 1
    with pytest.raises(ValueError, match="same shape"):
        check_loss("squared_error", y=y, z=z[:1])


def test_user_loss_with_unknown_targets_asks_for_points():
    with pytest.raises(ValueError, match="y="):
        check_loss(PositiveTargetLoss())
    rng = np.random.RandomState(0)
    assert check_loss(PositiveTargetLoss(), y=rng.uniform(1, 2, (5, 2)),
                      z=rng.normal(size=(5, 2))).passed


# ----------------------------------------------------------------------------
# check_gradients on whole networks
# ----------------------------------------------------------------------------


def _regression_data(n=20, n_features=3, seed=0):
    rng = np.random.RandomState(seed)
    return rng.randn(n, n_features), rng.randn(n)


@pytest.mark.parametrize("activation", ["tanh", PlainTanh()], ids=["tanh", "PlainTanh"])
def test_check_gradients_passes_for_a_right_activation(activation):
    X, y = _regression_data()
    result = check_gradients(FNNRegressor((5,), activation=activation, alpha=0.1), X, y,
                             raise_on_failure=True)
    assert result.passed


def test_check_gradients_of_a_one_step_pipeline_is_its_estimators():
    # Before: AttributeError "This 'Pipeline' has no attribute 'transform'" (the empty
    # pipeline of the steps before the last one was asked to transform X).
    from sklearn.pipeline import make_pipeline

    X, y = _regression_data()
    est = FNNRegressor((5,), activation="tanh", alpha=0.1, random_state=0)
    result = check_gradients(make_pipeline(est), X, y)
    assert result.passed
    np.testing.assert_array_equal(result.gradient, check_gradients(est, X, y).gradient)


def test_check_gradients_fails_for_a_wrong_derivative():
    X, y = _regression_data()
    est = FNNRegressor((5,), activation=WrongTanh(), alpha=0.1)
    result = check_gradients(est, X, y, raise_on_failure=False)
    assert not result.passed and not bool(result)
    assert "FAILED" in str(result)
    # Only layer 1 sits below the wrong derivative; W^2, b^2 are still right.
    by_block = {(b.layer, b.param): b for b in result.blocks}
    assert by_block[1, "W"].max_rel_error > 1e-3
    assert by_block[2, "W"].max_rel_error < 1e-6
    # The problems name the wrong blocks, W^1 first, and only those.
    assert [p.split(" differs")[0] for p in result.problems] == [
        "backprop's gradient in W^1", "backprop's gradient in b^1"]
    # Raising is the default, as for check_activation and check_loss.
    with pytest.raises(GradientCheckError,
                       match=r"Gradient check failed: backprop's gradient in W\^1 differs "
                             r"from the finite differences of J by \S+ relative to the "
                             r"block's scale \(tol 1e-06\); the largest error, \S+, is at "
                             r"coefs_\[0\]\[\d, \d\]"):
        check_gradients(est, X, y)


def test_check_gradients_fails_for_a_wrong_loss_gradient():
    X, y = _regression_data()
    result = check_gradients(FNNRegressor((4,), activation="tanh", loss=WrongGradientLoss()),
                             X, y, raise_on_failure=False)
    assert not result.passed


def test_check_gradients_passes_for_a_multiclass_classifier():
    rng = np.random.RandomState(1)
    X, y = rng.randn(30, 4), np.arange(30) % 3
    clf = FNNClassifier((6, 4), activation=["tanh", "softplus"], alpha=0.01)
    assert check_gradients(clf, X, y, sample_weight=rng.uniform(0.5, 2, 30)).passed


def test_subset_mode_says_so_and_checks_exactly_max_params_coordinates():
    X, y = _regression_data(n_features=5)
    est = FNNRegressor((30,), activation="tanh")
    n_params = 5 * 30 + 30 + 30 * 1 + 1
    result = check_gradients(est, X, y, max_params=25)
    assert result.subset and result.n_params == n_params
    assert result.indices.size == 25 == np.unique(result.indices).size
    assert sum(b.n_checked + b.n_skipped for b in result.blocks) == 25
    assert f"a random subset of 25 of {n_params} coordinates" in str(result)
    assert result.passed
    full = check_gradients(est, X, y)
    assert not full.subset and f"all {n_params} coordinates" in str(full)
    assert full.indices.size == n_params


def test_a_pre_activation_exactly_at_the_relu_kink_is_skipped():
    X, y = _regression_data(n=25, n_features=3, seed=2)
    est = FNNRegressor((4,), activation="relu", solver="lbfgs", max_iter=50,
                       random_state=0).fit(X, y)
    # Sample 0 becomes e_1, and b^1_0 = −W^1_00: so Z^1[0, 0] = W^1_00 + b^1_0 = 0 exactly.
    X = X.copy()
    X[0] = [1.0, 0.0, 0.0]
    est.intercepts_[0][0] = -est.coefs_[0][0, 0]
    Zs, _, _ = _engine.forward(est._net, X, est.coefs_, est.intercepts_)
    assert Zs[1][0, 0] == 0.0

    result = check_gradients(est, X, y, raise_on_failure=True)
    by_block = {(b.layer, b.param): b for b in result.blocks}
    # The ±ε step of W^1_00 and of b^1_0 moves Z^1[0, 0] across 0.
    assert by_block[1, "W"].n_skipped >= 1 and by_block[1, "b"].n_skipped >= 1
    assert sum(b.n_skipped for b in result.blocks) > 0
    assert result.passed


# ----------------------------------------------------------------------------
# python -m skfnn gradcheck
# ----------------------------------------------------------------------------

def test_gradcheck_command_passes_every_builtin_pairing(capsys):
    from skfnn.__main__ import PAIRINGS, hidden_activations_to_check, main

    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.endswith(("passed", "FAILED"))]
    hidden = hidden_activations_to_check()
    assert set(hidden) == {n for n, cls in ACTIVATIONS.items() if cls.elementwise} - {"exp"}
    assert len(rows) == len(hidden) * len(PAIRINGS)
    assert all(row[-1] == "passed" and float(row[-2]) < 1e-6 for row in rows)
    assert f"{len(rows)} of {len(rows)} configurations passed" in out


def test_gradcheck_command_fails_on_a_wrong_builtin_derivative(capsys, monkeypatch):
    from skfnn.__main__ import main
    from skfnn.activations import Tanh

    # A 10% error in tanh' (and no fast path hiding it) must turn the command red.
    monkeypatch.setattr(Tanh, "derivative", lambda self, z, a: 1.1 * (1 - a**2))
    assert main(["gradcheck", "--seed", "1"]) == 1
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.endswith(("passed", "FAILED"))]
    # Exactly the configurations with tanh as hidden or output activation fail.
    assert rows and all((row[-1] == "FAILED") == ("tanh" in (row[0], row[2])) for row in rows)


class ClaimsDerivativeFromA(Activation):
    """softplus whose derivative reads z, wrongly flagged derivative_from_a."""

    name = "claims_from_a"
    derivative_from_a = True

    def forward(self, z):
        return np.logaddexp(0, z)

    def derivative(self, z, a):
        return 1 / (1 + np.exp(-z))


def test_check_activation_catches_a_false_derivative_from_a_claim():
    with pytest.raises(GradientCheckError, match="reads z although derivative_from_a"):
        check_activation(ClaimsDerivativeFromA())
    result = check_activation(ClaimsDerivativeFromA(), raise_on_failure=False)
    assert not result.passed


# ----------------------------------------------------------------------------
# One result type and one default for the three checks
# ----------------------------------------------------------------------------


def test_the_three_checks_share_one_result_type_and_one_default():
    import inspect

    from skfnn.gradcheck import BlockError, CheckRow, GradientCheckResult

    assert GradientCheckResult is CheckResult and BlockError is CheckRow
    defaults = {f.__name__: inspect.signature(f).parameters["raise_on_failure"].default
                for f in (check_activation, check_loss, check_gradients)}
    assert defaults == dict.fromkeys(defaults, True)
    X, y = _regression_data()
    results = [check_activation("tanh"), check_loss("squared_error"),
               check_gradients(FNNRegressor((3,), activation="tanh"), X, y)]
    assert all(type(r) is CheckResult and r.passed and not r.problems for r in results)
    assert [r.function for r in results] == ["check_activation", "check_loss",
                                             "check_gradients"]
    # check_gradients' rows are its blocks, W^1, b^1, W^2, b^2, each judged on max_error.
    blocks = results[2].blocks
    assert [r.check for r in blocks] == ["W^1", "b^1", "W^2", "b^2"]
    assert [(b.layer, b.param) for b in blocks] == [(1, "W"), (1, "b"), (2, "W"), (2, "b")]
    assert all(b.max_rel_error == b.max_error <= 1e-6 for b in blocks)
    assert results[2].max_rel_error == results[2].max_error == max(b.max_error for b in blocks)

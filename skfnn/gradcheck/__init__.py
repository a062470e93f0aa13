"""Verification of the δ-backpropagation against central finite differences.

:func:`check_gradients` compares, for any estimator configuration, the
engine's gradient ∇J with central differences (J(θ + εe_i) − J(θ − εe_i)) / 2ε
on the same packed parameter vector θ, in float64, and reports the error per
layer for W and b.

:func:`check_activation` and :func:`check_loss` verify the pieces one at a
time: an activation's ``derivative`` against central differences of its
``forward``, and a loss's ``gradient`` and ``delta`` against central
differences of its per-sample value (of ℓ(y, σ(z)) for ``delta``). They are
meant for custom activations and losses, before they go into an estimator.

The three return one type, :class:`CheckResult` (``GradientCheckResult`` is
another name for it), and raise :class:`GradientCheckError` on failure unless
called with ``raise_on_failure=False``.

The package holds one module per check (``_gradients``, ``_activation``,
``_loss``), each a short driver over named comparisons that write into a
shared report (``_report``); the points check_loss draws (``_points``), the
result type (``_result``), and the one function that reads the estimator's
training problem (``_estimator``).
"""

from ._activation import check_activation
from ._gradients import check_gradients
from ._loss import check_loss
from ._result import (
    BlockError,
    CheckResult,
    CheckRow,
    GradientCheckError,
    GradientCheckResult,
)

__all__ = [
    "BlockError",
    "CheckResult",
    "CheckRow",
    "GradientCheckError",
    "GradientCheckResult",
    "check_activation",
    "check_gradients",
    "check_loss",
]

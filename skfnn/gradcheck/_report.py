"""What every check shares: the finite differences, the error measure, and the report.

A named check compares one thing and writes into a :class:`Report`: a table
row (what was compared, how many points, the largest error) and, when
something is wrong, one sentence naming it. The report becomes the check's
:class:`~skfnn.gradcheck.CheckResult`.
"""

import numpy as np

from ._result import CheckResult, CheckRow


def kink_margin(eps):
    """How close to a kink a point may lie and still be checked."""
    return max(1e-4, 10 * eps)


def near_kinks(values, kinks, margin):
    """Where ``values`` lie within ``margin`` of one of ``kinks``."""
    near = np.zeros(np.shape(values), dtype=bool)
    for kink in kinks:
        near |= np.abs(values - kink) < margin
    return near


def errors(analytic, numerical):
    """|analytic − numerical| / max(1, |analytic|, |numerical|), +inf where not finite."""
    with np.errstate(invalid="ignore", over="ignore"):
        analytic, numerical = np.asarray(analytic, float), np.asarray(numerical, float)
        scale = np.maximum(1.0, np.maximum(np.abs(analytic), np.abs(numerical)))
        error = np.abs(analytic - numerical) / scale
    return np.where(np.isfinite(error), error, np.inf)


def column_differences(f, X, eps):
    """Central differences of the per-row values f(X) in each column of X (X's shape)."""
    fd = np.empty_like(X)
    with np.errstate(all="ignore"):
        for k in range(X.shape[1]):
            plus, minus = X.copy(), X.copy()
            plus[:, k] += eps
            minus[:, k] -= eps
            fd[:, k] = (f(plus) - f(minus)) / (plus[:, k] - minus[:, k])
    return fd


def g(x):
    """A number in a problem sentence."""
    return f"{float(x):.4g}"


def vec(x):
    """A row of numbers in a problem sentence."""
    return np.array2string(np.asarray(x, dtype=float), precision=4, separator=", ")


class Report:
    """The rows and problems of one check, turned into its result at the end."""

    def __init__(self, function, subject, tol, eps):
        self.function, self.subject = function, subject
        self.tol, self.eps = tol, eps
        self.rows, self.problems = [], []

    def problem(self, text):
        self.problems.append(text)

    def row(self, check, n_checked, *, activation="-", n_skipped=0, max_error=None, **block):
        """Add a table row (``block``: check_gradients' layer, param, max_abs_error, where)."""
        self.rows.append(CheckRow(check, activation, n_checked, n_skipped, max_error, **block))

    def call(self, what, fn, arrays, *extra):
        """fn(*copies of arrays, *extra), noting each array that fn modified."""
        copies = [np.array(value, copy=True) for _, value in arrays]
        out = fn(*copies, *extra)
        for (name, value), copy_ in zip(arrays, copies, strict=True):
            if not np.array_equal(np.asarray(value), copy_, equal_nan=True):
                self.problem(
                    f"{what} modified its input {name} in place; it must leave its arguments "
                    f"unchanged (the engine uses {name} again afterwards)"
                )
        return out

    def check_array(self, what, out, shape, dtype, inputs):
        """Note a wrong shape or dtype of ``out``; return True if the shape is right."""
        out, dtype = np.asarray(out), np.dtype(dtype)
        if out.shape != shape:
            self.problem(
                f"{what} returned an array of shape {out.shape} for {inputs} of shape "
                f"{shape}; it must return an array of the same shape"
            )
            return False
        if out.dtype != dtype:
            self.problem(
                f"{what} returned {out.dtype} for {dtype.name} {inputs}; it must keep the "
                f"input's dtype so that float32 data trains in float32 (a numpy float64 "
                f"scalar, such as np.sqrt(2), promotes a float32 array: use a Python float)"
            )
        return True

    def compare(self, check, error, describe, *, activation="-", n_skipped=0, masked=None):
        """Add the row of one comparison and, if an error exceeds tol, its problem.

        ``describe(where)`` words the largest error, at index ``where`` of
        ``error``. ``masked`` marks entries left out of ``error`` (set to 0
        there, near a kink); ``n_skipped`` counts points dropped before
        ``error`` was made. Both are reported as skipped.
        """
        n_masked = 0 if masked is None else int(masked.sum())
        self.row(check, error.size - n_masked, activation=activation,
                 n_skipped=n_skipped + n_masked, max_error=float(error.max()))
        n_bad = int((error > self.tol).sum())
        if n_bad:
            where = np.unravel_index(int(np.argmax(error)), error.shape)
            others = f"; {n_bad - 1} other value(s) differ too" if n_bad > 1 else ""
            self.problem(describe(where) + others)

    def result(self, raise_on_failure, **details):
        """The check's result (``details``: check_gradients' fields); raise if asked to."""
        out = CheckResult(self.function, self.subject, tuple(self.rows),
                          tuple(dict.fromkeys(self.problems)), self.tol, self.eps, **details)
        if raise_on_failure:
            out.raise_if_failed()
        return out

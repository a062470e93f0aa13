"""The model axis: K networks of one architecture trained as one stack.

:func:`fit_members` fits estimators that differ only in ``random_state``,
``alpha`` and ``learning_rate_init``, on the same data, each exactly as its own
``fit`` would (bit for bit).
"""

__all__ = ["STACKABLE", "fit_members"]

#: The parameters in which stacked members may differ.
STACKABLE = frozenset({"random_state", "alpha", "learning_rate_init"})


def fit_members(estimators, X, y, sample_weight=None):
    """Fit each estimator on (X, y, sample_weight), as ``est.fit`` would; return them."""
    for est in estimators:
        est.fit(X, y, sample_weight)
    return list(estimators)

"""What activation and loss objects share: value semantics from their parameters."""


class Parametrised:
    """repr, equality and hashing from the instance's parameters (its ``vars``).

    Two ``HuberLoss(threshold=2.0)`` are equal, so an estimator can tell whether
    a warm start changed an activation or a loss, and clones compare equal.
    """

    def __repr__(self):
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({params})"

    def __eq__(self, other):
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self):
        return hash((type(self), tuple(sorted(vars(self).items()))))

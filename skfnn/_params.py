"""What activation and loss objects share: value semantics and registry lookup."""


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


def lookup(spec, registry, param, kind, methods):
    """An instance for a registry name, or ``spec`` itself if it has ``methods``.

    Parameters
    ----------
    spec : str or object
        A name in ``registry`` (a dict of classes, instantiated without
        arguments) or an object.
    registry : dict
    param : str
        The estimator parameter, for error messages.
    kind : str
        What the object is ("Activation", "Loss"), for error messages.
    methods : sequence of str
        The methods an object must have, as shown in error messages
        ("forward(z)"); the name is what precedes the parenthesis.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones).
    TypeError
        For a class instead of an instance, or an object lacking a method.
    """
    if isinstance(spec, str):
        try:
            return registry[spec]()
        except KeyError:
            raise ValueError(
                f"Unknown {param} {spec!r}. Valid names are: {', '.join(sorted(registry))}; "
                f"or pass {kind} object."
            ) from None
    names = [m.split("(")[0] for m in methods]
    missing = [n for n in names if not callable(getattr(spec, n, None))]
    if isinstance(spec, type):
        missing = [f"an instance (got the class; call {spec.__name__}())"]
    if missing:
        raise TypeError(
            f"{param} must be a name in {sorted(registry)} or {kind} object with "
            f"{_and(methods)} methods; got {spec!r} of type {type(spec).__name__}, "
            f"which lacks {_and(missing)}."
        )
    return spec


def _and(words):
    """'a', 'a and b', 'a, b and c'."""
    return " and ".join(filter(None, [", ".join(words[:-1]), words[-1]]))

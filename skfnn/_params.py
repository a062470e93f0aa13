"""What activation and loss objects share: value semantics and registry lookup."""

import numpy as np


class Parametrised:
    """repr, equality and hashing from the instance's parameters (its ``vars``).

    Two ``HuberLoss(threshold=2.0)`` are equal, so an estimator can tell whether
    a warm start changed an activation or a loss, and clones compare equal.
    """

    def __repr__(self):
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({params})"

    def __eq__(self, other):
        if type(self) is not type(other) or vars(self).keys() != vars(other).keys():
            return False
        # Parameters may be arrays, whose == is elementwise.
        return all(_same_value(v, vars(other)[k]) for k, v in vars(self).items())

    def __hash__(self):
        # Consistent with __eq__ (equal objects have the same type and names) and
        # defined for unhashable parameter values such as arrays.
        return hash((type(self), tuple(sorted(vars(self)))))


def _same_value(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.shape(a) == np.shape(b) and bool(np.array_equal(a, b))
    return bool(a == b)


def optional(obj, attribute, defaults):
    """``obj``'s optional ``attribute``, or its documented default when absent.

    Parameters
    ----------
    obj : object
        An activation or a loss (a subclass of the base class or any object
        with the required methods).
    attribute : str
        A key of ``defaults``.
    defaults : dict
        The optional attributes of this kind of object and their defaults.
    """
    return getattr(obj, attribute, defaults[attribute])


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

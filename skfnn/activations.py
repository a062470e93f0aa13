"""Activation functions σ and their derivatives σ'.

Each activation is one small class that keeps the function and its derivative
side by side, with the formula in its docstring. ``derivative(z, a)`` receives
both the pre-activation ``z`` and the activation ``a = σ(z)`` so that each
implementation uses whichever is cheaper (logistic: ``a (1 - a)``; tanh:
``1 - a²``; relu: ``z > 0``).

Built-ins are looked up by name in :data:`ACTIVATIONS`; :func:`get_activation`
turns a name or an object into an activation.

The built-ins compute in the namespace of their input (:func:`skfnn.array_namespace`):
numpy, or under scikit-learn's ``array_api_dispatch`` PyTorch, CuPy or
array-api-strict, on the input's device. Their ``forward_into`` and
``multiply_derivative`` fast paths are numpy's (``out=``) and used for numpy only.
"""

import math

import numpy as np
from scipy.special import expit

from . import _array_api
from ._array_api import array_namespace, astype, scalar
from ._params import Parametrised, lookup
from ._params import optional as _optional

_INF = float("inf")

__all__ = [
    "ACTIVATIONS",
    "OPTIONAL_ATTRIBUTES",
    "ELU",
    "GELU",
    "Activation",
    "Exp",
    "Identity",
    "LeakyReLU",
    "Logistic",
    "ReLU",
    "SiLU",
    "Softmax",
    "Softplus",
    "Tanh",
    "get_activation",
    "optional",
    "vjp",
]


class Activation(Parametrised):
    """Base class of an elementwise activation function σ.

    Subclasses implement :meth:`forward` and :meth:`derivative`. They must be
    picklable (defined at module level) and hold no state that ``fit`` changes.

    Two optional methods let the engine skip allocations; the built-ins
    define them where numpy can work in place:

    - ``forward_into(z, out)``: return σ(z), using ``out`` (an array of z's
      shape, possibly z itself) as its storage where that saves an
      allocation (identity simply returns z);
    - ``multiply_derivative(delta, z, a)``: multiply ``delta`` in place by
      σ'(z) and return it.

    Both are numpy fast paths: the engine calls them only for numpy arrays.
    ``forward`` and ``derivative`` are what runs on the arrays of other
    libraries (under scikit-learn's ``array_api_dispatch``); written with the
    functions of ``xp = skfnn.array_namespace(z)``, as the built-ins are, they
    run on every namespace (see docs/array_api.md).

    Attributes
    ----------
    name : str
        The registry name (used in ``repr`` and error messages).
    init_factor : float
        The numerator of the Glorot-uniform bound ``sqrt(init_factor /
        (fan_in + fan_out))`` used when initialising a layer with this
        activation (6 as in Glorot & Bengio, 2 for logistic as scikit-learn).
    output_range : tuple of float or None
        ``(low, high)``: every value σ can return lies in [low, high]. A
        classifier accepts an output activation only if its range lies in
        [0, 1] (its outputs are probabilities); None (the default of custom
        activations) declares nothing, and is refused there.

    Every attribute but the two methods is optional: an object without one
    gets the default listed in :data:`OPTIONAL_ATTRIBUTES`, so a plain class
    with ``forward`` and ``derivative`` works wherever an Activation does.

    Examples
    --------
    A custom activation, ``σ(z) = z³``:

    >>> import numpy as np
    >>> from skfnn.activations import Activation
    >>> class Cube(Activation):
    ...     name = "cube"
    ...     def forward(self, z):
    ...         return z**3
    ...     def derivative(self, z, a):
    ...         return 3 * z**2
    >>> Cube().forward(np.array([2.0]))
    array([8.])
    """

    name = "activation"
    init_factor = 6.0
    #: True for activations applied to each unit independently; softmax is not.
    elementwise = True
    #: Points z where σ' jumps; gradient checks skip coordinates whose
    #: finite-difference step moves a pre-activation across one.
    kinks = ()
    #: True when ``derivative(z, a)`` reads only a; the engine may then let
    #: A^l overwrite Z^l of a hidden layer in place (less memory and traffic).
    derivative_from_a = False
    output_range = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # A subclass that redefines σ or σ' must not inherit its parent's fast
        # paths, which compute the parent's function.
        if "forward" in vars(cls) and "forward_into" not in vars(cls):
            cls.forward_into = None
        if "derivative" in vars(cls) and "multiply_derivative" not in vars(cls):
            cls.multiply_derivative = None
        if "derivative" in vars(cls) and "derivative_from_a" not in vars(cls):
            cls.derivative_from_a = False
        # Nor its declared range (a classifier would take 2σ(z) for probabilities) ...
        if "forward" in vars(cls) and "output_range" not in vars(cls):
            cls.output_range = None
        # ... nor its Jacobian product: the elementwise default g ⊙ σ'(z) follows
        # the new derivative; a non-elementwise subclass must write its own.
        if ({"forward", "derivative"} & set(vars(cls))) and "vjp" not in vars(cls):
            cls.vjp = Activation.vjp if cls.elementwise else None

    def forward(self, z):
        """Return σ(z)."""
        raise NotImplementedError

    def derivative(self, z, a):
        """Return σ'(z), an array of z's shape, given z and a = σ(z)."""
        raise NotImplementedError

    def vjp(self, z, a, g):
        """Return (∂a/∂z)ᵀ g per row: the output error δ^L = (∂a/∂z)ᵀ ∂ℓ/∂a.

        For an elementwise σ the Jacobian is diagonal and this is g ⊙ σ'(z);
        an activation that couples the units of a row (softmax) overrides it.
        """
        return g * self.derivative(z, a)


class Identity(Activation):
    """σ(z) = z, σ'(z) = 1."""

    name = "identity"
    output_range = (-_INF, _INF)
    derivative_from_a = True

    def forward(self, z):
        return z

    def derivative(self, z, a):
        return array_namespace(z).ones_like(z)

    def forward_into(self, z, out):
        return z

    def multiply_derivative(self, delta, z, a):
        return delta


class Logistic(Activation):
    """σ(z) = 1 / (1 + e^{-z}), σ'(z) = a (1 - a)."""

    name = "logistic"
    output_range = (0.0, 1.0)
    derivative_from_a = True
    init_factor = 2.0

    def forward(self, z):
        return _array_api.expit(z)

    def derivative(self, z, a):
        return a * (1 - a)

    def forward_into(self, z, out):
        return expit(z, out=out)

    def multiply_derivative(self, delta, z, a):
        delta *= a
        delta *= 1 - a
        return delta


class Tanh(Activation):
    """σ(z) = tanh z, σ'(z) = 1 - a²."""

    name = "tanh"
    output_range = (-1.0, 1.0)
    derivative_from_a = True

    def forward(self, z):
        return array_namespace(z).tanh(z)

    def derivative(self, z, a):
        return 1 - a**2

    def forward_into(self, z, out):
        return np.tanh(z, out=out)


class ReLU(Activation):
    """σ(z) = max(z, 0), σ'(z) = [z > 0] = [a > 0] (0 at the kink, as scikit-learn)."""

    name = "relu"
    output_range = (0.0, _INF)
    derivative_from_a = True
    kinks = (0.0,)

    def forward(self, z):
        return array_namespace(z).maximum(z, scalar(0, z))

    def derivative(self, z, a):
        return astype(a > 0, a.dtype)  # a > 0 exactly where z > 0

    def forward_into(self, z, out):
        return np.maximum(z, 0, out=out)

    def multiply_derivative(self, delta, z, a):
        # Multiplying by the 0/1 mask is branch-free; masked assignment
        # (delta[z <= 0] = 0) is several times slower on mixed signs.
        return np.multiply(delta, a > 0, out=delta)


class LeakyReLU(Activation):
    """σ(z) = z if z > 0 else s z, σ'(z) = 1 if z > 0 else s (s = negative_slope)."""

    name = "leaky_relu"
    kinks = (0.0,)

    def __init__(self, negative_slope=0.01):
        self.negative_slope = negative_slope

    @property
    def output_range(self):
        return (0.0, _INF) if self.negative_slope == 0 else (-_INF, _INF)

    def forward(self, z):
        return array_namespace(z).where(z > 0, z, self.negative_slope * z)

    def derivative(self, z, a):
        where = array_namespace(z).where
        return astype(where(z > 0, scalar(1, z), scalar(self.negative_slope, z)), z.dtype)


class ELU(Activation):
    """σ(z) = z if z > 0 else α (e^z - 1), σ'(z) = 1 if z > 0 else a + α."""

    name = "elu"
    kinks = (0.0,)

    def __init__(self, alpha=1.0):
        self.alpha = alpha

    @property
    def output_range(self):
        return (-self.alpha, _INF) if self.alpha >= 0 else (-_INF, _INF)

    def forward(self, z):
        # expm1 of min(z, 0): exact near 0 and no overflow warning for large z.
        xp = array_namespace(z)
        return xp.where(z > 0, z, self.alpha * xp.expm1(xp.minimum(z, scalar(0, z))))

    def derivative(self, z, a):
        return astype(array_namespace(z).where(z > 0, scalar(1, z), a + self.alpha), z.dtype)


class Softplus(Activation):
    """σ(z) = log(1 + e^z), σ'(z) = 1 / (1 + e^{-z}) (the logistic function)."""

    name = "softplus"
    output_range = (0.0, _INF)

    def forward(self, z):
        return array_namespace(z).logaddexp(scalar(0, z), z)

    def derivative(self, z, a):
        return _array_api.expit(z)


class GELU(Activation):
    """Exact GELU: σ(z) = z Φ(z), σ'(z) = Φ(z) + z φ(z).

    Φ is the standard normal CDF, φ its density. This is the exact form
    (``erf``), not the tanh approximation.
    """

    name = "gelu"
    output_range = (-0.17, _INF)

    def forward(self, z):
        return z * _normal_cdf(z)

    def derivative(self, z, a):
        return _normal_cdf(z) + z * array_namespace(z).exp(-0.5 * z**2) / math.sqrt(2 * math.pi)


def _normal_cdf(z):
    # erf is not in the array API standard: the namespace's own library's, if any.
    return 0.5 * (1 + _array_api.erf(z / math.sqrt(2), user="gelu"))


class SiLU(Activation):
    """SiLU / swish: σ(z) = z s(z), σ'(z) = s(z) (1 + z (1 - s(z))), s = logistic."""

    name = "silu"
    output_range = (-0.279, _INF)

    def forward(self, z):
        return z * _array_api.expit(z)

    def derivative(self, z, a):
        s = _array_api.expit(z)
        return s * (1 + z * (1 - s))


class Exp(Activation):
    """σ(z) = e^z, σ'(z) = a: the canonical link of the Poisson loss."""

    name = "exp"
    output_range = (0.0, _INF)
    derivative_from_a = True

    def forward(self, z):
        return array_namespace(z).exp(z)

    def derivative(self, z, a):
        return a

    def forward_into(self, z, out):
        return np.exp(z, out=out)


class Softmax(Activation):
    """σ(z)_k = e^{z_k} / Σ_j e^{z_j}, row by row (an output activation only).

    Softmax is not elementwise: its Jacobian ∂a_k/∂z_j = a_k (δ_kj − a_j)
    couples the units of a row, so it is only allowed as the output activation
    of a multiclass classifier. It enters δ^L through :meth:`vjp`,
    (∂a/∂z)ᵀ g = a ⊙ (g − ⟨g, a⟩) per row (the Jacobian is symmetric), for any
    loss; the log-loss fuses the product into δ^L = a − y. :meth:`derivative`
    (an elementwise σ') is not defined.
    """

    name = "softmax"
    output_range = (0.0, 1.0)
    elementwise = False

    def forward(self, z):
        # Subtracting the row maximum leaves the result unchanged and avoids overflow.
        xp = array_namespace(z)
        e = xp.exp(z - xp.max(z, axis=1, keepdims=True))
        return e / xp.sum(e, axis=1, keepdims=True)

    def forward_into(self, z, out):
        np.subtract(z, z.max(axis=1, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=1, keepdims=True)
        return out

    def derivative(self, z, a):
        raise NotImplementedError(
            "softmax has no elementwise derivative: its Jacobian couples the units of a "
            "row. It enters δ^L through vjp(z, a, g) = a ⊙ (g − ⟨g, a⟩)."
        )

    def vjp(self, z, a, g):
        return a * (g - _array_api.row_dots(g, a)[:, None])


#: The optional attributes of an activation, and the default each takes when an
#: object lacks it (see :class:`Activation`). ``name`` defaults to None: error
#: messages then show the object's repr.
OPTIONAL_ATTRIBUTES = {
    "name": None,
    "init_factor": 6.0,
    "elementwise": True,
    "kinks": (),
    "derivative_from_a": False,
    "output_range": None,
    "forward_into": None,
    "multiply_derivative": None,
    "vjp": None,
}


def vjp(sigma, z, a, g):
    """(∂a/∂z)ᵀ g for any activation object: its ``vjp``, else g ⊙ σ'(z) (elementwise).

    Examples
    --------
    >>> import numpy as np
    >>> from skfnn.activations import Softmax, Tanh, vjp
    >>> z = np.array([[0.5, -1.0, 2.0]])
    >>> a = Softmax().forward(z)
    >>> g = np.array([[1.0, 0.0, 0.0]])
    >>> J = np.diag(a[0]) - np.outer(a[0], a[0])  # the softmax Jacobian
    >>> bool(np.allclose(vjp(Softmax(), z, a, g), g @ J))
    True
    >>> bool(np.allclose(vjp(Tanh(), z, np.tanh(z), g), g * (1 - np.tanh(z) ** 2)))
    True
    """
    product = optional(sigma, "vjp")
    if product is not None:
        return product(z, a, g)
    return g * sigma.derivative(z, a)


def optional(sigma, attribute):
    """``sigma``'s optional ``attribute``, or its default from :data:`OPTIONAL_ATTRIBUTES`.

    Examples
    --------
    >>> from skfnn.activations import optional
    >>> class Cube:  # a plain class with the two required methods
    ...     def forward(self, z):
    ...         return z**3
    ...     def derivative(self, z, a):
    ...         return 3 * z**2
    >>> optional(Cube(), "init_factor"), optional(Cube(), "kinks")
    (6.0, ())
    """
    return _optional(sigma, attribute, OPTIONAL_ATTRIBUTES)


#: Registry of the built-in activations, by name.
ACTIVATIONS = {
    cls.name: cls
    for cls in (
        Identity,
        Logistic,
        Tanh,
        ReLU,
        LeakyReLU,
        ELU,
        Softplus,
        GELU,
        SiLU,
        Exp,
        Softmax,
    )
}


def get_activation(spec, param="activation", registry=ACTIVATIONS):
    """Return an :class:`Activation` for a registry name or an activation object.

    Parameters
    ----------
    spec : str or Activation
        A name in :data:`ACTIVATIONS` or an object with ``forward`` and
        ``derivative`` methods. Objects are returned as they are.
    param : str, default="activation"
        The parameter name used in error messages.
    registry : dict, default=ACTIVATIONS
        The names allowed here (hidden layers take only the elementwise ones).

    Returns
    -------
    activation : Activation

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones).
    TypeError
        For an object that lacks ``forward`` or ``derivative``.

    Examples
    --------
    >>> from skfnn.activations import get_activation
    >>> get_activation("tanh")
    Tanh()
    """
    return lookup(spec, registry, param, "an Activation",
                  ("forward(z)", "derivative(z, a)"))

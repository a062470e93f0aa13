"""The network being trained: layout, activations, loss and penalty, as one value.

:class:`Network` is what the engine, the training loops and the gradient check
take instead of a list of loose arguments. The estimator builds one per fit
from its parameters; it holds no weights (θ travels separately, as a vector)
and no data. It also resolves, once, the optional parts of each activation
and of the loss (fast paths, kinks, the init factor, ...) to their documented
defaults, so that a plain object with only the required methods works, and
the engine never asks an object what it offers in the middle of a batch.

:meth:`Network.checked` returns a twin whose user-supplied activations and
loss verify every result they return (shape, dtype kind, finiteness): the
training loop runs its first step through it, so a broadcastable wrong shape
is an error, never a wrong gradient, and the following steps run unchecked.
"""

import importlib
import numbers

import numpy as np

from . import _array_api
from . import activations as _activations
from . import losses as _losses
from ._engine import Layout, init_params

__all__ = ["INITIALIZERS", "Network"]


class Network:
    """The architecture and objective of one fit.

    Parameters
    ----------
    layer_units : sequence of int
        ``[n_features, n_hidden_1, ..., n_outputs]``.
    sigmas : sequence of activation objects
        σ_1, ..., σ_L: the hidden activations, then the output activation.
    loss : loss object
    alpha : float, default=0.0
        The L2 penalty α.
    init_factors : sequence of float, optional
        The Glorot-uniform numerator of each weight layer (see
        :func:`skfnn._engine.init_params`); by default each layer uses its
        activation's ``init_factor``.
    dropout : sequence of float, optional
        p_l, the probability of dropping a unit of hidden layer l during
        training, one per hidden layer (default: no dropout).
    init : str or callable, default="glorot_uniform"
        The weight initialisation (see :data:`INITIALIZERS`), or a callable
        ``init(fan_in, fan_out, random_state, dtype) -> W``.
    xp : module, default=numpy
        The array namespace of the data and θ (:func:`skfnn._array_api.fit_namespace`).
    device : object, default=None
        Their device in ``xp`` (None for numpy).

    Attributes
    ----------
    layout : Layout
        Where each W^l, b^l sits in θ.
    forward_into, multiply_derivative : tuple
        Each layer's fast path, or None where the activation offers none (and
        everywhere outside numpy: the fast paths write with numpy's ``out=``).
    in_place : tuple of bool
        Whether hidden layer l may compute A^l over Z^l (its σ' reads only a).
    kinks : tuple of tuple
        Each layer's kinks (points where σ' jumps), for gradient checks.
    """

    def __init__(self, layer_units, sigmas, loss, alpha=0.0, init_factors=None, dropout=None,
                 init="glorot_uniform", xp=np, device=None):
        self.layout = Layout(layer_units)
        self.xp, self.device = xp, device
        self.sigmas = tuple(sigmas)
        self.loss = loss
        self.alpha = float(alpha)
        self.dropout = tuple(float(p) for p in (dropout or [0.0] * (len(self.sigmas) - 1)))
        self.init = init
        opt = _activations.optional
        self.init_factors = tuple(init_factors if init_factors is not None
                                  else (opt(s, "init_factor") for s in self.sigmas))
        fast = _array_api.has_out_buffers(xp)
        self.forward_into = tuple(opt(s, "forward_into") if fast else None for s in self.sigmas)
        self.multiply_derivative = tuple(opt(s, "multiply_derivative") if fast else None
                                         for s in self.sigmas)
        L = len(self.sigmas)
        self.in_place = tuple(l < L - 1 and bool(opt(s, "derivative_from_a"))
                              and self.forward_into[l] is not None
                              for l, s in enumerate(self.sigmas))
        self.kinks = tuple(tuple(opt(s, "kinks") or ()) for s in self.sigmas)
        self.loss_kinks = tuple(_losses.optional(loss, "kinks") or ())

    @property
    def layer_units(self):
        return self.layout.layer_units

    @property
    def output(self):
        """σ_L, the output activation."""
        return self.sigmas[-1]

    @property
    def has_dropout(self):
        return any(self.dropout)

    def initial_theta(self, random_state, dtype):
        """θ drawn as a fresh fit starts.

        ``"glorot_uniform"`` is scikit-learn's scheme, draws included
        (:func:`skfnn._engine.init_params`); every other scheme draws W^1,
        W^2, ... in that order and starts the biases at 0. The draws are numpy's
        whatever the namespace (then moved to the device), so that a seed gives
        the same initial network everywhere.
        """
        host_dtype = _numpy_dtype(dtype)
        if self.init == "glorot_uniform":
            theta = init_params(self.layout, self.init_factors, random_state, host_dtype)
        else:
            draw = INITIALIZERS.get(self.init, self.init)
            Ws = [_checked_init(draw(fan_in, fan_out, random_state, host_dtype),
                                (fan_in, fan_out), self.init)
                  for fan_in, fan_out in self.layout.coef_shapes]
            bs = [np.zeros(n, host_dtype) for n in self.layer_units[1:]]
            theta = self.layout.pack(Ws, bs, out=np.empty(self.layout.size, dtype=host_dtype))
        return self.on_device(theta)

    def on_device(self, host_array, dtype=None):
        """A numpy array in this network's namespace, on its device (in ``dtype``).

        numpy's array is returned as it is (an assignment into θ casts it).
        """
        return _array_api.to_namespace(host_array, self.xp, self.device, dtype)

    def draw_masks(self, random_state, n_samples, dtype, workspace=None):
        """The dropout masks of one batch: ``[None, M^1, ..., M^{L-1}, None]``.

        M^l = [u ≥ p_l] / (1 − p_l) with u ~ U[0, 1) drawn from
        ``random_state`` for each row and unit, hidden layer 1 first (none
        for a layer with p_l = 0): inverted dropout, so that the expected
        Ã^l = A^l ⊙ M^l is A^l and prediction needs no rescaling. The draws
        are numpy's in every namespace; the masks are moved to the device.
        """
        masks = [None]
        for l, p in enumerate(self.dropout, start=1):
            if not p:
                masks.append(None)
                continue
            shape = (n_samples, self.layer_units[l])
            keep = random_state.random_sample(shape) >= p
            if not _array_api.has_out_buffers(self.xp):
                masks.append(self.xp.astype(self.on_device(keep), dtype) * (1.0 / (1.0 - p)))
                continue
            out = np.empty(shape, dtype) if workspace is None else workspace.Masks[l]
            masks.append(np.multiply(keep, 1.0 / (1.0 - p), out=out))
        masks.append(None)
        return masks

    def __getstate__(self):
        # A module is not data: the namespace travels by name (numpy, array-api-compat's
        # torch, ...) and is imported again on the other side.
        return {**vars(self), "xp": self.xp.__name__}

    def __setstate__(self, state):
        self.__dict__.update(state, xp=importlib.import_module(state["xp"]))

    def replace(self, **changes):
        """A copy with some constructor arguments changed (``alpha=...``)."""
        params = dict(layer_units=self.layer_units, sigmas=self.sigmas, loss=self.loss,
                      alpha=self.alpha, init_factors=self.init_factors, dropout=self.dropout,
                      init=self.init, xp=self.xp, device=self.device)
        params.update(changes)
        return Network(**params)

    def checked(self):
        """This network with every user-supplied piece verifying its results.

        Built-in activations and losses are trusted and left as they are (so
        the first step computes exactly what the others do); the rest are
        wrapped in proxies that raise a ValueError naming the object, the
        method and the shapes when a result breaks the contract.
        """
        sigmas = [s if _builtin(s, _activations.ACTIVATIONS) else _CheckedActivation(s, l)
                  for l, s in enumerate(self.sigmas, start=1)]
        loss = self.loss if _builtin(self.loss, _losses.LOSSES) else _CheckedLoss(self.loss)
        if all(a is b for a, b in zip(sigmas, self.sigmas, strict=True)) and loss is self.loss:
            return self
        return self.replace(sigmas=sigmas, loss=loss)

    def blame(self, error, step):
        """Re-raise ``error``, raised by ``step(self)``, naming the user object it came from.

        A user object whose results go wrong after the first (checked) step
        ends in an error deep inside the engine (numpy's matmul on a wrong
        shape) that names nothing of the user's. ``step`` is run again through
        the checked twin, whose contract errors name the object, the method and
        the shapes; built-in pieces only: ``error`` is raised as it is.
        """
        twin = self.checked()
        if twin is self:
            raise error
        try:
            step(twin)
        except ValueError as named:
            raise named from error
        users = [repr(p) for p in (*self.sigmas, self.loss)
                 if not _builtin(p, _activations.ACTIVATIONS) and not _builtin(
                     p, _losses.LOSSES)]
        raise ValueError(f"{error} (raised in a training step of a network with the "
                         f"user-supplied {', '.join(users)}, whose results passed the "
                         "contract checks when the step was run again)") from error

    def __repr__(self):
        return (f"Network(layer_units={list(self.layer_units)}, sigmas={list(self.sigmas)}, "
                f"loss={self.loss!r}, alpha={self.alpha})")


def _numpy_dtype(dtype):
    """The numpy twin of a float dtype of any namespace (draws are made in numpy)."""
    try:
        return np.dtype(dtype)
    except TypeError:  # torch.float32, ...: the same name
        return np.dtype(str(dtype).rsplit(".", 1)[-1])


def _glorot_normal(fan_in, fan_out, random_state, dtype):
    """W ~ N(0, 2 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    return random_state.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), (fan_in, fan_out))


def _he_uniform(fan_in, fan_out, random_state, dtype):
    """W ~ U(±sqrt(6 / fan_in)) (He et al., 2015)."""
    bound = np.sqrt(6.0 / fan_in)
    return random_state.uniform(-bound, bound, (fan_in, fan_out))


def _he_normal(fan_in, fan_out, random_state, dtype):
    """W ~ N(0, 2 / fan_in) (He et al., 2015)."""
    return random_state.normal(0.0, np.sqrt(2.0 / fan_in), (fan_in, fan_out))


def _lecun_normal(fan_in, fan_out, random_state, dtype):
    """W ~ N(0, 1 / fan_in) (LeCun et al., 1998)."""
    return random_state.normal(0.0, np.sqrt(1.0 / fan_in), (fan_in, fan_out))


def _orthogonal(fan_in, fan_out, random_state, dtype):
    """W with orthonormal columns (fan_in ≥ fan_out) or rows (Saxe et al., 2014).

    The Q of the QR decomposition of a standard normal matrix, its columns'
    signs fixed by R's diagonal so that W is uniformly distributed.
    """
    G = random_state.standard_normal((max(fan_in, fan_out), min(fan_in, fan_out)))
    Q, R = np.linalg.qr(G)
    Q *= np.sign(np.diag(R))
    return Q if fan_in >= fan_out else Q.T


#: The weight initialisations by name; "glorot_uniform" (scikit-learn's, with
#: its uniform biases) is :func:`skfnn._engine.init_params`. The others start
#: the biases at 0.
INITIALIZERS = {
    "glorot_normal": _glorot_normal,
    "he_uniform": _he_uniform,
    "he_normal": _he_normal,
    "lecun_normal": _lecun_normal,
    "orthogonal": _orthogonal,
}


def _checked_init(W, shape, init):
    """A callable's W must be a finite real array of the layer's shape."""
    W = np.asarray(W)
    if W.shape != shape:
        raise ValueError(f"init={init!r} returned W of shape {W.shape} for a layer with "
                         f"fan_in={shape[0]}, fan_out={shape[1]}; it must return an array "
                         f"of shape {shape}.")
    if W.dtype.kind not in "biuf" or not np.isfinite(W).all():
        raise ValueError(f"init={init!r} returned non-finite or non-real weights for a "
                         f"layer of shape {shape}.")
    return W


def _builtin(obj, registry):
    """True for an instance of exactly a registered class (a subclass is user code)."""
    return type(obj) in registry.values()


# ----------------------------------------------------------------------------
# Contract checks for user-supplied activations and losses
# ----------------------------------------------------------------------------
def _in_namespace(like, owner, call, method, *args):
    """``method(*args)``, in the namespace of ``like``: outside numpy, a failure or a
    result of another namespace is explained (an object written with numpy calls is
    numpy-only)."""
    xp = _array_api.array_namespace(like)
    if _array_api.is_numpy(xp):
        return method(*args)
    try:
        result = method(*args)
    except Exception as exc:
        raise TypeError(_numpy_only(owner, call, xp, f"raised {type(exc).__name__} ({exc})")
                        ) from exc
    if _array_api.is_array(result) and _array_api.array_namespace(result) is not xp:
        raise TypeError(_numpy_only(owner, call, xp, f"returned a {type(result).__module__}."
                                                     f"{type(result).__name__}"))
    return result


def _numpy_only(owner, call, xp, what):
    return (f"{owner} {what} from {call} on {_array_api.name(xp)} arrays. Under "
            "scikit-learn's array_api_dispatch=True the network trains in the namespace of X: "
            "write it with the functions of its inputs' namespace (xp = "
            "skfnn.array_namespace(z), then xp.exp(z), xp.where(...), ...) instead of "
            "numpy's, or fit numpy arrays (see docs/array_api.md).")


def _expect_array(result, shape, owner, call, inputs):
    """Raise ValueError unless ``result`` is a finite real array of ``shape``."""
    array = np.asarray(result) if not hasattr(result, "shape") else result
    got = tuple(getattr(array, "shape", ()))
    if got != tuple(shape):
        raise ValueError(
            f"{owner} returned an array of shape {got} from {call} for {inputs} of shape "
            f"{tuple(shape)}; it must return an array of shape {tuple(shape)} (numpy would "
            "broadcast the wrong shape silently and train on a wrong gradient)."
        )
    _expect_finite_real(array, owner, call)
    return result


def _expect_finite_real(array, owner, call):
    if not _array_api.is_real(array):
        raise ValueError(
            f"{owner} returned values of dtype {array.dtype} from {call}; it "
            "must return real numbers (a float array)."
        )
    if not _array_api.all_finite(array):
        raise ValueError(
            f"{owner} returned non-finite values (nan or inf) from {call} in a checked "
            "training step."
        )


class _CheckedActivation:
    """Proxy of a user activation that verifies each result's shape, kind and finiteness."""

    def __init__(self, sigma, layer):
        self._sigma = sigma
        self._owner = f"The activation {sigma!r} (layer {layer})"
        # The optional fast paths exist on the proxy only where the object has them.
        into = _activations.optional(sigma, "forward_into")
        fused = _activations.optional(sigma, "multiply_derivative")
        product = _activations.optional(sigma, "vjp")
        if getattr(type(sigma), "vjp", None) is _activations.Activation.vjp:
            product = None  # the default g ⊙ σ'(z): through the checked derivative
        self._range = _activations.optional(sigma, "output_range")
        self.forward_into = into and self._in_range(
            self._checking(into, "forward_into(z, out)", z_at=0), "forward_into(z, out)")
        self.multiply_derivative = fused and self._checking(
            fused, "multiply_derivative(delta, z, a)", z_at=1)
        self.vjp = product and self._checking(product, "vjp(z, a, g)", z_at=0)

    def __getattr__(self, name):  # everything else (name, kinks, ...) as the object has it
        return getattr(self._sigma, name)

    def _checking(self, method, call, z_at):
        def checked(*args):
            return _expect_array(_in_namespace(args[z_at], self._owner, call, method, *args),
                                 args[z_at].shape, self._owner, call, "z")
        return checked

    def _in_range(self, method, call):
        """``method`` whose results must lie in the declared ``output_range`` (if any)."""
        if self._range is None:
            return method

        def checked(*args):
            a = method(*args)
            xp = _array_api.array_namespace(a)
            low, high = float(xp.min(a)), float(xp.max(a))
            if low < self._range[0] or high > self._range[1]:
                raise ValueError(
                    f"{self._owner} returned values in [{low:.6g}, {high:.6g}] from {call}, "
                    f"outside its declared output_range={tuple(self._range)}: the "
                    "declaration is what a classifier trusts to treat the outputs as "
                    "probabilities. Correct forward, or the declared range.")
            return a
        return checked

    def forward(self, z):
        return self._in_range(self._checking(self._sigma.forward, "forward(z)", z_at=0),
                              "forward(z)")(z)

    def derivative(self, z, a):
        return self._checking(self._sigma.derivative, "derivative(z, a)", z_at=0)(z, a)

    def __repr__(self):
        return repr(self._sigma)


class _CheckedLoss:
    """Proxy of a user loss that verifies its value, gradient and δ^L."""

    def __init__(self, loss):
        self._loss = loss
        self._owner = f"The loss {loss!r}"

    def __getattr__(self, name):
        return getattr(self._loss, name)

    def __call__(self, y, a, sample_weight=None):
        call = "__call__(y, a, sample_weight)"
        value = _in_namespace(a, self._owner, call, self._loss, y, a, sample_weight)
        array = value if _array_api.is_array(value) else np.asarray(value)
        if array.ndim != 0 or not _array_api.is_real(array) or (
                isinstance(array, np.ndarray) and not isinstance(array.item(), numbers.Real)):
            raise ValueError(
                f"{self._owner} returned {type(value).__name__} of shape "
                f"{tuple(array.shape)} from {call}; it must return one real number, the "
                "weighted mean over samples of the per-sample loss (summed over outputs)."
            )
        _expect_finite_real(array, self._owner, call)
        return value

    def gradient(self, y, a):
        call = "gradient(y, a)"
        return _expect_array(_in_namespace(a, self._owner, call, self._loss.gradient, y, a),
                             a.shape, self._owner, call, "a")

    def delta(self, y, z, a, activation):
        # δ^L may not call gradient (canonical pairs): check its shape here once.
        g = self.gradient(y, a)
        call = "delta(y, z, a, activation)"
        delta = _expect_array(_in_namespace(z, self._owner, call, self._loss.delta, y, z, a,
                                            activation), z.shape, self._owner, call, "z")
        self._check_chain_rule(delta, _activations.vjp(activation, z, a, g), activation)
        return delta

    def _check_chain_rule(self, delta, expected, activation):
        """Raise ValueError unless δ^L is (∂a/∂z)ᵀ gradient(y, a), to rounding.

        A shortcut (a − y for a canonical pair) differs from the chain rule by
        a few roundings; a wrong sign or factor by O(1). The tolerance, ε^(1/3)
        relative to each entry plus the largest, lies between the two in
        float64 (6e-6) and float32 (5e-3).
        """
        xp = _array_api.array_namespace(expected)
        tol = float(xp.finfo(expected.dtype).eps) ** (1 / 3)
        error, size = xp.abs(delta - expected), xp.abs(expected)
        bad = error > tol * (size + xp.max(size))
        if not bool(xp.any(bad)):
            return
        i, k = (int(v) for v in np.unravel_index(int(xp.argmax(error)), tuple(error.shape)))
        chain = ("gradient(y, a) * activation.derivative(z, a)"
                 if _activations.optional(activation, "elementwise")
                 else "activation.vjp(z, a, gradient(y, a))")
        raise ValueError(
            f"{self._owner} returned from delta(y, z, a, activation) an output error δ^L "
            f"that is not the chain rule {chain} with the output activation {activation!r}: "
            f"at sample {i}, output {k}, delta gives {float(delta[i, k]):.6g} where the "
            f"chain rule gives {float(expected[i, k]):.6g}. One of delta, gradient or the "
            "activation's derivative is wrong (a sign, a factor); skfnn.check_loss(loss, "
            "activation=...) and skfnn.check_activation tell which."
        )

    def __repr__(self):
        return repr(self._loss)

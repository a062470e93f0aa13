"""Stochastic optimizers acting on the packed parameter vector θ.

The update rules and stopping hooks of "sgd" and "adam" are those of
scikit-learn's MLP, so a user who switches gets the same training; "adamw" and
"rmsprop" are PyTorch's ``AdamW`` and ``RMSprop``. Every optimizer follows a
learning-rate schedule of :mod:`skfnn.schedules` (with an optional linear
warm-up), asked once per epoch. Because θ and ∇J are single contiguous
vectors, a step is a handful of in-place vector operations rather than a
Python loop over layers. The vectors may be numpy's (stepped block by block,
through a scratch block) or any array-API library's (whole vectors at once, on
their device).
"""

import numpy as np

from . import _array_api
from ._array_api import array_namespace, ufuncs
from ._engine import blocks as _blocks
from .schedules import (
    REDUCED_LEARNING_RATE,
    STOP,
    STOP_SMALL_LEARNING_RATE,
    Constant,
    checked_rate,
    warmup_factor,
)

__all__ = ["REDUCED_LEARNING_RATE", "SGD", "STOP", "STOP_SMALL_LEARNING_RATE", "Adam",
           "AdamW", "RMSprop"]


def _zeros(size, dtype, xp, device):
    """The optimizer's state vectors start at 0, in θ's namespace and on its device."""
    return _array_api.zeros(size, dtype, xp, device)


class _Optimizer:
    """Shared schedule hooks: η from a schedule, times the warm-up factor.

    ``learning_rate`` is η of the current epoch, ``scheduled`` the schedule's
    rate before the warm-up, ``epoch`` the epochs completed. Optimizers compute
    steps and schedules; they print nothing. What training reports about them
    (verbose output) is the training loop's hooks' business.

    Parameters
    ----------
    learning_rate_init : float
        η₀.
    schedule : Schedule, default=None
        None: :class:`~skfnn.schedules.Constant`.
    warmup_epochs : int, default=0
        W of the linear warm-up.
    """

    #: The names of the state vectors, which a stack of optimizers keeps as rows
    #: of (K, P) arrays (the model axis, :mod:`skfnn._stack`).
    state = ()

    def __init__(self, learning_rate_init, schedule=None, warmup_epochs=0):
        self.learning_rate_init = learning_rate_init
        self.schedule = Constant() if schedule is None else schedule
        self.warmup_epochs = warmup_epochs
        self.epoch = 0
        self.scheduled = float(learning_rate_init)
        self._set_rate()

    def _set_rate(self):
        self.learning_rate = self.scheduled
        if self.warmup_epochs:
            self.learning_rate *= warmup_factor(self.epoch, self.warmup_epochs)

    def step(self, theta, grad, scratch):
        """Update θ in place given ∇J, which it overwrites (``scratch``: the workspace's block)."""
        self.update(theta, grad, scratch, self.state_vectors(), self.coefficients())

    def state_vectors(self):
        """The state vectors named in :attr:`state`, in that order."""
        return [getattr(self, name) for name in self.state]

    def coefficients(self):  # pragma: no cover - abstract
        """This step's scalars (Python floats; advances the step count where there is one)."""
        raise NotImplementedError

    def update(self, theta, grad, scratch, state, coefficients):  # pragma: no cover
        """The update rule on θ, ∇J and the ``state`` vectors, with this step's ``coefficients``.

        Vectors or stacks (K, P) of them with coefficients of shape (K, 1) in
        θ's dtype: the same elementwise operations, so each row of a stack gets
        the bits its own optimizer would give it.
        """
        raise NotImplementedError

    def iteration_ends(self, time_step):
        """Called after each epoch with ``t_``, the number of samples seen."""
        self.epoch += 1
        rate = self.schedule.epoch_rate(self.scheduled, self.learning_rate_init, self.epoch,
                                        time_step)
        self.scheduled = checked_rate(rate, self.schedule)
        self._set_rate()

    def on_plateau(self):
        """Training stopped improving for ``n_iter_no_change`` epochs: decide.

        Returns one of :data:`STOP`, :data:`STOP_SMALL_LEARNING_RATE` (both
        end training) or :data:`REDUCED_LEARNING_RATE` (training goes on), as
        the schedule decides (a schedule without ``on_plateau`` stops).
        """
        on_plateau = getattr(self.schedule, "on_plateau", None)
        if on_plateau is None:
            return STOP
        decision, rate = on_plateau(self.scheduled)
        if decision not in (STOP, STOP_SMALL_LEARNING_RATE, REDUCED_LEARNING_RATE):
            raise ValueError(f"The learning-rate schedule {self.schedule!r} decided "
                             f"{decision!r} on a plateau; expected one of {STOP!r}, "
                             f"{STOP_SMALL_LEARNING_RATE!r} or {REDUCED_LEARNING_RATE!r}.")
        self.scheduled = checked_rate(rate, self.schedule)
        self._set_rate()
        return decision


class SGD(_Optimizer):
    """Stochastic gradient descent with (Nesterov) momentum.

    v ← μ v − η ∇J, then θ ← θ + v, or with Nesterov's momentum
    θ ← θ + μ v − η ∇J.

    Parameters
    ----------
    size : int
        The length of θ.
    dtype : dtype
    learning_rate_init : float
        η at the start.
    momentum : float
        μ.
    nesterov : bool
    schedule, warmup_epochs
        As :class:`_Optimizer`.
    xp : module, default=numpy
        θ's array namespace.
    device : object, default=None
        θ's device in ``xp``.
    """

    def __init__(self, size, dtype, learning_rate_init=0.1, momentum=0.9, nesterov=True, *,
                 schedule=None, warmup_epochs=0, xp=np, device=None):
        super().__init__(learning_rate_init, schedule, warmup_epochs)
        self.momentum = momentum
        self.nesterov = nesterov
        self.velocity = _zeros(size, dtype, xp, device)

    state = ("velocity",)

    def state_vectors(self):
        return (self.velocity,)

    def coefficients(self):
        return (float(self.learning_rate),)

    def update(self, theta, grad, scratch, state, coefficients):
        (lr,), (velocity,), mu = coefficients, state, self.momentum
        u = ufuncs(array_namespace(theta))
        for th, g, v in _blocks(theta, grad, velocity):
            g *= lr  # η ∇J
            v *= mu
            v -= g  # v ← μ v − η ∇J
            if self.nesterov:
                step = u.multiply(v, mu, out=scratch[..., : th.shape[-1]])
                step -= g
                th += step  # θ ← θ + μ v − η ∇J
            else:
                th += v  # θ ← θ + v


class Adam(_Optimizer):
    """Adam (Kingma & Ba, 2014), as scikit-learn's MLP.

    m ← β₁ m + (1 − β₁) g, v ← β₂ v + (1 − β₂) g²,
    η_t = η √(1 − β₂^t) / (1 − β₁^t), θ ← θ − η_t m / (√v + ε).

    Parameters
    ----------
    size : int
        The length of θ.
    dtype : dtype
    learning_rate_init : float
    beta_1, beta_2 : float
    epsilon : float
    schedule, warmup_epochs
        As :class:`_Optimizer`.
    xp : module, default=numpy
        θ's array namespace.
    device : object, default=None
        θ's device in ``xp``.
    """

    def __init__(self, size, dtype, learning_rate_init=0.001, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, *, schedule=None, warmup_epochs=0, xp=np, device=None):
        super().__init__(learning_rate_init, schedule, warmup_epochs)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.t = 0
        self.m = _zeros(size, dtype, xp, device)
        self.v = _zeros(size, dtype, xp, device)

    state = ("m", "v")

    def state_vectors(self):
        return self.m, self.v

    def coefficients(self):
        self.t += 1
        step_size = float(
            self.learning_rate * np.sqrt(1 - self.beta_2**self.t) / (1 - self.beta_1**self.t)
        )
        return (-step_size,)

    def update(self, theta, grad, scratch, state, coefficients):
        (minus_step_size,), (m_, v_), eps = coefficients, state, self.epsilon
        u = ufuncs(array_namespace(theta))
        for th, g, m, v in _blocks(theta, grad, m_, v_):
            a = _moments(u, g, m, v, scratch[..., : th.shape[-1]], self.beta_1, self.beta_2)
            a = u.sqrt(v, out=a)
            a += eps
            update = u.multiply(m, minus_step_size, out=g)  # g is spent: it holds the update
            update /= a
            th += update  # θ ← θ − η_t m / (√v + ε)


def _moments(u, g, m, v, a, b1, b2):
    """m ← β₁ m + (1 − β₁) g and v ← β₂ v + (1 − β₂) g², in place; return the scratch ``a``."""
    m *= b1
    m += u.multiply(g, 1 - b1, out=a)
    v *= b2
    v += u.multiply(u.square(g, out=a), 1 - b2, out=a)
    return a


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``.

    θ ← (1 − η λ) θ (the decoupled weight decay, on every parameter, biases
    included, as PyTorch's), then m ← β₁ m + (1 − β₁) g,
    v ← β₂ v + (1 − β₂) g², and
    θ ← θ − η / (1 − β₁^t) · m / (√v / √(1 − β₂^t) + ε): ε is added to the
    square root of the bias-corrected second moment (scikit-learn's Adam adds it
    to √v). ``alpha``'s L2 term stays in the loss, and so in g.

    Parameters
    ----------
    size, dtype, learning_rate_init, beta_1, beta_2, epsilon
        As :class:`Adam`.
    weight_decay : float, default=0.01
        λ.
    schedule, warmup_epochs, xp, device
        As :class:`Adam`.
    """

    def __init__(self, size, dtype, learning_rate_init=0.001, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, weight_decay=0.01, *, schedule=None, warmup_epochs=0, xp=np,
                 device=None):
        super().__init__(size, dtype, learning_rate_init, beta_1, beta_2, epsilon,
                         schedule=schedule, warmup_epochs=warmup_epochs, xp=xp, device=device)
        self.weight_decay = weight_decay

    def coefficients(self):
        self.t += 1
        lr = self.learning_rate
        return (1 - lr * self.weight_decay, -(lr / (1 - self.beta_1**self.t)),
                (1 - self.beta_2**self.t) ** 0.5)

    def update(self, theta, grad, scratch, state, coefficients):
        (decay, minus_step_size, root_correction), (m_, v_) = coefficients, state
        u = ufuncs(array_namespace(theta))
        for th, g, m, v in _blocks(theta, grad, m_, v_):
            if self.weight_decay:
                th *= decay  # θ ← (1 − η λ) θ
            a = _moments(u, g, m, v, scratch[..., : th.shape[-1]], self.beta_1, self.beta_2)
            a = u.sqrt(v, out=a)
            a /= root_correction
            a += self.epsilon  # √v̂ + ε
            update = u.multiply(m, minus_step_size, out=g)  # g is spent: it holds the update
            update /= a
            th += update  # θ ← θ − η m̂ / (√v̂ + ε)


class RMSprop(_Optimizer):
    """RMSprop (Hinton, 2012), as ``torch.optim.RMSprop`` with its defaults
    ``momentum=0, centered=False``.

    v ← ρ v + (1 − ρ) g², θ ← θ − η g / (√v + ε). No momentum and no
    centring: the plain rule (momentum is sgd's and adam's business);
    ``alpha``'s L2 term is PyTorch's ``weight_decay`` here.

    Parameters
    ----------
    size : int
        The length of θ.
    dtype : dtype
    learning_rate_init : float
    rho : float, default=0.9
        ρ, the decay of the mean square (PyTorch's ``alpha``, Keras's ``rho``).
    epsilon : float, default=1e-8
    schedule, warmup_epochs, xp, device
        As :class:`Adam`.
    """

    def __init__(self, size, dtype, learning_rate_init=0.001, rho=0.9, epsilon=1e-8, *,
                 schedule=None, warmup_epochs=0, xp=np, device=None):
        super().__init__(learning_rate_init, schedule, warmup_epochs)
        self.rho = rho
        self.epsilon = epsilon
        self.v = _zeros(size, dtype, xp, device)

    state = ("v",)

    def state_vectors(self):
        return (self.v,)

    def coefficients(self):
        return (-self.learning_rate,)

    def update(self, theta, grad, scratch, state, coefficients):
        (minus_lr,), (v_,), rho = coefficients, state, self.rho
        u = ufuncs(array_namespace(theta))
        for th, g, v in _blocks(theta, grad, v_):
            a = scratch[..., : th.shape[-1]]
            v *= rho
            v += u.multiply(u.square(g, out=a), 1 - rho, out=a)  # v ← ρ v + (1 − ρ) g²
            a = u.sqrt(v, out=a)
            a += self.epsilon
            g *= minus_lr
            g /= a
            th += g  # θ ← θ − η g / (√v + ε)

"""Stochastic optimizers acting on the packed parameter vector θ.

The update rules, learning-rate schedules and stopping hooks are those of
scikit-learn's MLP, so a user who switches gets the same training. Because θ
and ∇J are single contiguous vectors, a step is a handful of in-place vector
operations rather than a Python loop over layers. The vectors may be numpy's
(stepped block by block, through a scratch block) or any array-API library's
(whole vectors at once, on their device).
"""

import numpy as np

from ._array_api import array_namespace, ufuncs
from ._engine import blocks as _blocks

__all__ = ["REDUCED_LEARNING_RATE", "SGD", "STOP", "STOP_SMALL_LEARNING_RATE", "Adam"]



#: What :meth:`on_plateau` decided: stop, stop because the learning rate is
#: already tiny, or carry on with a reduced learning rate.
STOP, STOP_SMALL_LEARNING_RATE, REDUCED_LEARNING_RATE = (
    "stop", "stop_small_learning_rate", "reduced_learning_rate")


def _zeros(size, dtype, xp, device):
    """The optimizer's state vectors start at 0, in θ's namespace and on its device."""
    return np.zeros(size, dtype=dtype) if xp is np else xp.zeros(size, dtype=dtype, device=device)


class _Optimizer:
    """Shared schedule hooks: a constant learning rate that stops on a plateau.

    Optimizers compute steps and schedules; they print nothing. What training
    reports about them (verbose output) is the training loop's hooks' business.
    """

    def __init__(self, learning_rate_init):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)

    def iteration_ends(self, time_step):
        """Called after each epoch with ``t_``, the number of samples seen."""

    def on_plateau(self):
        """Training stopped improving for ``n_iter_no_change`` epochs: decide.

        Returns one of :data:`STOP`, :data:`STOP_SMALL_LEARNING_RATE` (both
        end training) or :data:`REDUCED_LEARNING_RATE` (training goes on).
        """
        return STOP


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
    lr_schedule : {"constant", "invscaling", "adaptive"}
        "invscaling": η_t = η_0 / (t + 1)^power_t after every epoch (t counts
        samples); "adaptive": η is divided by 5 each time training stops
        improving, until it drops below 1e-6.
    momentum : float
        μ.
    nesterov : bool
    power_t : float
    xp : module, default=numpy
        θ's array namespace.
    device : object, default=None
        θ's device in ``xp``.
    """

    def __init__(self, size, dtype, learning_rate_init=0.1, lr_schedule="constant",
                 momentum=0.9, nesterov=True, power_t=0.5, *, xp=np, device=None):
        super().__init__(learning_rate_init)
        self.lr_schedule = lr_schedule
        self.momentum = momentum
        self.nesterov = nesterov
        self.power_t = power_t
        self.velocity = _zeros(size, dtype, xp, device)

    def step(self, theta, grad, scratch):
        """Update θ in place given ∇J, which it overwrites (``scratch``: the workspace's block)."""
        lr, mu = float(self.learning_rate), self.momentum
        u = ufuncs(array_namespace(theta))
        for th, g, v in _blocks(theta, grad, self.velocity):
            g *= lr  # η ∇J
            v *= mu
            v -= g  # v ← μ v − η ∇J
            if self.nesterov:
                step = u.multiply(v, mu, out=scratch[: th.shape[0]])
                step -= g
                th += step  # θ ← θ + μ v − η ∇J
            else:
                th += v  # θ ← θ + v

    def iteration_ends(self, time_step):
        if self.lr_schedule == "invscaling":
            self.learning_rate = float(self.learning_rate_init) / (time_step + 1) ** self.power_t

    def on_plateau(self):
        if self.lr_schedule != "adaptive":
            return super().on_plateau()
        if self.learning_rate <= 1e-6:
            return STOP_SMALL_LEARNING_RATE
        self.learning_rate /= 5.0
        return REDUCED_LEARNING_RATE


class Adam(_Optimizer):
    """Adam (Kingma & Ba, 2014).

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
    xp : module, default=numpy
        θ's array namespace.
    device : object, default=None
        θ's device in ``xp``.
    """

    def __init__(self, size, dtype, learning_rate_init=0.001, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, *, xp=np, device=None):
        super().__init__(learning_rate_init)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.t = 0
        self.m = _zeros(size, dtype, xp, device)
        self.v = _zeros(size, dtype, xp, device)

    def step(self, theta, grad, scratch):
        """Update θ in place given ∇J, which it overwrites (``scratch``: the workspace's block)."""
        self.t += 1
        self.learning_rate = float(
            self.learning_rate_init * np.sqrt(1 - self.beta_2**self.t) / (1 - self.beta_1**self.t)
        )
        b1, b2, eps, lr = self.beta_1, self.beta_2, self.epsilon, self.learning_rate
        u = ufuncs(array_namespace(theta))
        for th, g, m, v in _blocks(theta, grad, self.m, self.v):
            a = scratch[: th.shape[0]]
            m *= b1
            m += u.multiply(g, 1 - b1, out=a)  # m ← β₁ m + (1 − β₁) g
            v *= b2
            v += u.multiply(u.square(g, out=a), 1 - b2, out=a)  # v ← β₂ v + (1 − β₂) g²
            a = u.sqrt(v, out=a)
            a += eps
            update = u.multiply(m, -lr, out=g)  # g is spent: its block holds the update
            update /= a
            th += update  # θ ← θ − η_t m / (√v + ε)

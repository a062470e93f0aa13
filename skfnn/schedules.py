"""Learning-rate schedules of the stochastic solvers: η for each epoch.

A schedule is a small object with parameters and no state: the optimizer keeps
the current rate and asks the schedule, at the end of each epoch, for the next
one (:meth:`Schedule.epoch_rate`), and, when training stops improving, whether
to stop or carry on with a lower one (:meth:`Schedule.on_plateau`). Pass one as
``learning_rate`` (``FNNRegressor(learning_rate=CosineAnnealing(eta_min=1e-5))``)
or by name ("constant", "invscaling", "adaptive", "cosine"), for every
stochastic solver ("sgd", "adam", "adamw", "rmsprop"). Notation: η₀ is
``learning_rate_init``, e the number of epochs completed (0 for the first
epoch), t the number of training samples seen.

A linear warm-up (the estimators' ``warmup_epochs`` W) multiplies whatever rate
the schedule gives by :func:`warmup_factor` (e + 1) / (W + 1) for the first W
epochs, as ``torch.optim.lr_scheduler.LinearLR(start_factor=1 / (W + 1),
total_iters=W)`` chained with the schedule.

No one-cycle schedule: PyTorch's ``OneCycleLR`` steps per minibatch and cycles
the momentum too, with five parameters of its own; its shape (a linear rise,
then a cosine descent) is ``warmup_epochs`` with "cosine", and anything else is
a :class:`Schedule` subclass of a few lines (docs/extending.md).
"""

import math
from numbers import Integral, Real

from ._params import Parametrised, lookup

__all__ = ["SCHEDULES", "Adaptive", "Constant", "CosineAnnealing", "InvScaling",
           "REDUCED_LEARNING_RATE", "STOP", "STOP_SMALL_LEARNING_RATE", "Schedule",
           "get_schedule", "warmup_factor"]

#: What :meth:`Schedule.on_plateau` decides: stop, stop because the learning rate
#: is already tiny, or carry on with a reduced learning rate.
STOP, STOP_SMALL_LEARNING_RATE, REDUCED_LEARNING_RATE = (
    "stop", "stop_small_learning_rate", "reduced_learning_rate")


class Schedule(Parametrised):
    """Base class of the schedules: a constant rate, and stop on a plateau.

    A subclass overrides :meth:`epoch_rate` and, to react to a plateau,
    :meth:`on_plateau`. Its constructor's arguments are its parameters, stored
    as attributes of the same names (repr, equality and pickling read them).
    """

    #: The registry name of a built-in schedule (None for a user's).
    name = None

    def epoch_rate(self, rate, initial, epoch, t):
        """η for the coming epoch.

        Parameters
        ----------
        rate : float
            The schedule's rate of the epoch that just ended (without the warm-up).
        initial : float
            η₀, ``learning_rate_init``.
        epoch : int
            e, the number of epochs completed (≥ 1: called after each epoch).
        t : int
            The number of training samples seen so far (``t_``).

        Returns
        -------
        float
            The rate, finite and ≥ 0.
        """
        return rate

    def on_plateau(self, rate):
        """Training stopped improving for ``n_iter_no_change`` epochs: decide.

        Returns
        -------
        decision : {STOP, STOP_SMALL_LEARNING_RATE, REDUCED_LEARNING_RATE}
            Only the last lets training go on.
        rate : float
            The rate from now on.
        """
        return STOP, rate

    def for_max_iter(self, max_iter):
        """This schedule for a fit of ``max_iter`` epochs (itself, unless it depends on it)."""
        return self


class Constant(Schedule):
    """η_e = η₀; stop on a plateau (scikit-learn's "constant")."""

    name = "constant"


class InvScaling(Schedule):
    """η = η₀ / (t + 1)^power_t after each epoch (scikit-learn's "invscaling").

    Parameters
    ----------
    power_t : float, default=0.5
    """

    name = "invscaling"

    def __init__(self, power_t=0.5):
        self.power_t = _checked(self, "power_t", power_t, "a finite number ≥ 0")

    def epoch_rate(self, rate, initial, epoch, t):
        return float(initial) / (t + 1) ** self.power_t


class Adaptive(Schedule):
    """η = η₀ until a plateau, then η ← η / divisor, while η > min_rate (scikit-learn's
    "adaptive", PyTorch's ``ReduceLROnPlateau(factor=1 / divisor)``).

    A plateau is ``n_iter_no_change`` epochs without an improvement of ``tol``
    (of the training loss, or of the validation score with early stopping).
    When it comes with η ≤ min_rate, training stops.

    Parameters
    ----------
    divisor : float, default=5.0
    min_rate : float, default=1e-6
    """

    name = "adaptive"

    def __init__(self, divisor=5.0, min_rate=1e-6):
        self.divisor = _checked(self, "divisor", divisor, "a finite number > 1", low=1,
                                closed=False)
        self.min_rate = _checked(self, "min_rate", min_rate, "a finite number ≥ 0")

    def on_plateau(self, rate):
        if rate <= self.min_rate:
            return STOP_SMALL_LEARNING_RATE, rate
        return REDUCED_LEARNING_RATE, rate / self.divisor


class CosineAnnealing(Schedule):
    """η_e = η_min + (η₀ − η_min) (1 + cos(π e / T_max)) / 2, e the epochs completed.

    As ``torch.optim.lr_scheduler.CosineAnnealingLR`` stepped once per epoch:
    η falls from η₀ at the first epoch to η_min after T_max epochs (beyond,
    ``partial_fit`` follows the same formula, which rises again, as PyTorch's).

    Parameters
    ----------
    T_max : int or None, default=None
        The epochs of the descent; None: the estimator's ``max_iter``.
    eta_min : float, default=0.0
    """

    name = "cosine"

    def __init__(self, T_max=None, eta_min=0.0):
        if T_max is not None and (isinstance(T_max, bool) or not isinstance(T_max, Integral)
                                  or T_max < 1):
            raise ValueError("CosineAnnealing's T_max must be a positive integer (epochs) or "
                             f"None (the estimator's max_iter); got T_max={T_max!r}.")
        self.T_max = T_max
        self.eta_min = _checked(self, "eta_min", eta_min, "a finite number ≥ 0")

    def epoch_rate(self, rate, initial, epoch, t):
        cosine = (1 + math.cos(math.pi * epoch / self.T_max)) / 2
        return self.eta_min + (initial - self.eta_min) * cosine

    def for_max_iter(self, max_iter):
        return self if self.T_max is not None else CosineAnnealing(max_iter, self.eta_min)


def _checked(schedule, name, value, what, *, low=0, closed=True):
    """``value`` if it is a finite number above ``low`` (or equal, if ``closed``),
    else a ValueError naming the schedule and the parameter."""
    number = not isinstance(value, bool) and isinstance(value, Real)
    if not (number and value < math.inf and (value >= low if closed else value > low)):
        raise ValueError(f"{type(schedule).__name__}'s {name} must be {what}; "
                         f"got {name}={value!r}.")
    return value


#: The schedules by name.
SCHEDULES = {cls.name: cls for cls in (Constant, InvScaling, Adaptive, CosineAnnealing)}


def warmup_factor(epoch, warmup_epochs):
    """The linear warm-up's factor for epoch e (0-based): min(1, (e + 1) / (W + 1))."""
    return min(1.0, (epoch + 1) / (warmup_epochs + 1))


def get_schedule(spec, *, power_t=0.5, max_iter=None):
    """The schedule for an estimator's ``learning_rate``: a name or a schedule object.

    Parameters
    ----------
    spec : str or Schedule
    power_t : float, default=0.5
        The exponent of "invscaling" by name.
    max_iter : int, optional
        The estimator's ``max_iter``: T_max of "cosine" (and of a
        :class:`CosineAnnealing` whose T_max is None).
    """
    if spec == "invscaling":
        schedule = InvScaling(power_t)
    else:
        schedule = lookup(spec, SCHEDULES, "learning_rate", "a Schedule",
                          ["epoch_rate(rate, initial, epoch, t)"])
    for_max_iter = getattr(schedule, "for_max_iter", None)
    return schedule if for_max_iter is None else for_max_iter(max_iter)


def checked_rate(rate, schedule):
    """``rate`` as a float, unless a schedule returned something that is not a rate."""
    if isinstance(rate, bool) or not isinstance(rate, Real) or not (0 <= rate < math.inf):
        raise ValueError(f"The learning-rate schedule {schedule!r} returned {rate!r}; a "
                         "learning rate must be a finite number ≥ 0.")
    return float(rate)

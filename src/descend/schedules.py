r"""Learning-rate schedules: plain functions of the step index k = 0, 1, 2, ... -> learning rate.

Every schedule here also accepts a NumPy array of steps and returns the array of rates,
so compiled paths can take a whole epoch of rates at once (see :func:`evaluate`).
Any callable ``f(k) -> lr`` works as a schedule too.

A float learning rate becomes :func:`constant` in exactly one place, :func:`as_schedule`.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from .errors import ParameterError, check_positive

__all__ = ["as_schedule", "evaluate", "constant", "step", "exponential", "inverse_scaling",
           "cosine", "warmup", "Schedule", "from_name", "NAMES", "OPTIONS"]


class Schedule:
    """Base of the built-in schedules: callable on an int or an array of steps."""

    def __call__(self, k):
        raise NotImplementedError

    def __repr__(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__.lstrip('_')}({fields})"


@dataclass(repr=False)
class constant(Schedule):
    """lr_k = lr."""

    lr: float

    def __post_init__(self):
        check_positive("lr", self.lr)

    def __call__(self, k):
        return self.lr + 0.0 * np.asarray(k) if np.ndim(k) else self.lr


@dataclass(repr=False)
class step(Schedule):
    r"""lr_k = lr * gamma^floor(k / step_size)  (PyTorch's StepLR)."""

    lr: float
    step_size: int
    gamma: float = 0.1

    def __post_init__(self):
        check_positive("lr", self.lr)
        check_positive("step_size", self.step_size, integer=True)
        check_positive("gamma", self.gamma)

    def __call__(self, k):
        return self.lr * self.gamma ** (np.asarray(k) // self.step_size if np.ndim(k) else k // self.step_size)


@dataclass(repr=False)
class exponential(Schedule):
    r"""lr_k = lr * gamma^k  (PyTorch's ExponentialLR)."""

    lr: float
    gamma: float

    def __post_init__(self):
        check_positive("lr", self.lr)
        check_positive("gamma", self.gamma)

    def __call__(self, k):
        return self.lr * self.gamma ** (np.asarray(k, dtype=np.float64) if np.ndim(k) else k)


@dataclass(repr=False)
class inverse_scaling(Schedule):
    r"""lr_k = eta0 / (k + 1)^power_t  (scikit-learn's ``invscaling``, whose t starts at 1)."""

    eta0: float
    power_t: float = 0.25

    def __post_init__(self):
        check_positive("eta0", self.eta0)
        check_positive("power_t", self.power_t, allow_zero=True)

    def __call__(self, k):
        t = np.asarray(k, dtype=np.float64) + 1.0 if np.ndim(k) else k + 1.0
        return self.eta0 / t**self.power_t


@dataclass(repr=False)
class cosine(Schedule):
    r"""lr_k = floor + (lr - floor) (1 + cos(pi k / T)) / 2 for k <= T, then the floor.

    Equal to PyTorch's CosineAnnealingLR(T_max=T, eta_min=floor) for k <= T; PyTorch's
    keeps oscillating after T, this one stays at the floor.
    """

    lr: float
    T: int
    floor: float = 0.0

    def __post_init__(self):
        check_positive("lr", self.lr)
        check_positive("T", self.T, integer=True)
        check_positive("floor", self.floor, allow_zero=True)
        if self.floor > self.lr:
            raise ParameterError(f"cosine: floor ({self.floor}) must not exceed lr ({self.lr}).")

    def __call__(self, k):
        kk = np.minimum(np.asarray(k, dtype=np.float64), self.T) if np.ndim(k) else min(k, self.T)
        c = np.cos(np.pi * kk / self.T) if np.ndim(k) else math.cos(math.pi * kk / self.T)
        return self.floor + (self.lr - self.floor) * (1 + c) / 2


@dataclass(repr=False)
class warmup(Schedule):
    r"""Linear warm-up over ``steps`` steps wrapped around another schedule (a float means constant):

    lr_k = schedule(k) * (start_factor + (1 - start_factor) * min(k, steps) / steps)

    (PyTorch's LinearLR(start_factor, end_factor=1, total_iters=steps) chained with the schedule).
    """

    schedule: object
    steps: int
    start_factor: float = 1.0 / 3.0

    def __post_init__(self):
        self.schedule = as_schedule(self.schedule, name="warmup schedule")
        check_positive("steps", self.steps, integer=True)
        if not (isinstance(self.start_factor, numbers.Real) and 0 < self.start_factor <= 1):
            raise ParameterError(f"warmup: start_factor must be in (0, 1]; got {self.start_factor!r}.")

    def __call__(self, k):
        kk = np.minimum(np.asarray(k, dtype=np.float64), self.steps) if np.ndim(k) else min(k, self.steps)
        return self.schedule(k) * (self.start_factor + (1 - self.start_factor) * kk / self.steps)


def as_schedule(lr, name: str = "lr"):
    """A schedule from a float (constant) or a callable step -> lr; the one place this is decided."""
    if callable(lr):
        first = lr(0)
        if not (isinstance(first, numbers.Real) and math.isfinite(first) and first > 0):
            raise ParameterError(f"{name} schedule must return a finite number > 0; at step 0 it gave {first!r}.")
        return lr
    return constant(check_positive(name, lr))


def evaluate(schedule, start: int, count: int) -> np.ndarray:
    """The rates of steps start, start+1, ..., start+count-1 as a float64 array (vectorised when possible)."""
    if type(schedule) is constant:  # lr + 0 k is lr: no need to build the steps
        return np.full(count, float(schedule.lr))
    steps = np.arange(start, start + count)
    if isinstance(schedule, Schedule):
        return np.asarray(schedule(steps), dtype=np.float64)
    return np.fromiter((schedule(int(k)) for k in steps), dtype=np.float64, count=count)


_FROM_NAME = {
    "constant": (constant, ()),
    "step": (step, ("step_size", "gamma")),
    "exponential": (exponential, ("gamma",)),
    "invscaling": (inverse_scaling, ("power_t",)),
    "inverse_scaling": (inverse_scaling, ("power_t",)),
    "cosine": (cosine, ("T", "floor")),
    "warmup": (constant, ()),
}
NAMES = ("constant", "step", "exponential", "invscaling", "cosine", "warmup")

# The command line's option for each argument of from_name: (option, lowest value, lowest excluded,
# integer, help). The one table the CLI reads; adding a schedule argument is one line here.
OPTIONS = {
    "step_size": ("--step-size", 1, False, True, "step: steps between cuts."),
    "gamma": ("--gamma", 0.0, True, False, "step, exponential: the factor per cut / per step."),
    "power_t": ("--power-t", 0.0, False, False, "invscaling: lr / (t+1)^power_t."),
    "T": ("--t-max", 1, False, True, "cosine: steps to reach the floor."),
    "floor": ("--lr-min", 0.0, False, False, "cosine: the floor."),
    "warmup_steps": ("--warmup-steps", 1, False, True, "Linear warm-up steps (warmup, or wraps any schedule)."),
}


def from_name(name: str, lr: float, warmup_steps: int | None = None, start_factor: float | None = None,
              **params):
    """A schedule by name, starting from ``lr``: the command line's way to build one.

    ``constant``; ``step`` (step_size, gamma=0.1); ``exponential`` (gamma); ``invscaling``
    (power_t=0.25); ``cosine`` (T, floor=0); ``warmup`` (a constant rate after
    ``warmup_steps`` of linear warm-up). ``warmup_steps`` given with any other name wraps that
    schedule in the same warm-up. Parameters given as None are ignored (left at their defaults).
    """
    key = str(name).lower()
    if key not in _FROM_NAME:
        raise ParameterError(f"unknown schedule {name!r}; choose one of {', '.join(NAMES)}.")
    make, accepted = _FROM_NAME[key]
    params = {k: v for k, v in params.items() if v is not None}
    extra = sorted(set(params) - set(accepted))
    if extra:
        takes = ", ".join(accepted) if accepted else "no parameters"
        raise ParameterError(f"the {key} schedule takes {takes}; got {', '.join(extra)}.")
    if key == "step" and "step_size" not in params:
        raise ParameterError("the step schedule needs step_size (steps between cuts).")
    if key == "exponential" and "gamma" not in params:
        raise ParameterError("the exponential schedule needs gamma (the factor per step).")
    if key == "cosine" and "T" not in params:
        raise ParameterError("the cosine schedule needs T (the steps to reach the floor).")
    if key == "warmup" and warmup_steps is None:
        raise ParameterError("the warmup schedule needs warmup_steps (the steps of linear warm-up).")
    base = make(lr, **params)
    if warmup_steps is None:
        if start_factor is not None:
            raise ParameterError("start_factor needs warmup_steps (the steps of linear warm-up).")
        return base
    return warmup(base, warmup_steps, **({} if start_factor is None else {"start_factor": start_factor}))

"""Monitors: what the one loop calls at every epoch boundary.

A monitor has three hooks, each optional:

- ``on_start(run)`` before the first epoch;
- ``on_epoch(run)`` after the full-data loss of an epoch boundary is recorded (the start of
  every epoch, and the end of the run); returning a :class:`Stop` ends the run there;
- ``on_end(run, result)`` once the result is built.

``run`` is the loop's :class:`~descend.loop.Run`: the objective, optimizer and its state,
the current weights, the epoch count, the history so far and the best weights seen.
Divergence guarding, convergence, early stopping, plateau lr reduction and progress bars
are all monitors; none is a flag inside the loop.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .errors import ParameterError, check_positive

__all__ = ["Stop", "Monitor", "Divergence", "Convergence", "EarlyStopping", "ReduceLROnPlateau", "Progress"]


class Stop(NamedTuple):
    """Returned by a monitor to end the run: status is "converged", "diverged" or "stopped"."""

    status: str
    message: str


class Monitor:
    """Base class: every hook is optional.

    A monitor that keeps state between boundaries (a best loss, a count of bad epochs)
    returns it from ``state()`` as plain data (numbers, lists, dicts) and takes it back in
    ``load_state``: the loop stores it in ``Result.checkpoint``, so a resumed run continues
    exactly as the uninterrupted one would (the boundary a checkpoint ends at is not shown
    again to a monitor whose state was restored: that state has already seen it).
    """

    needs_grad = False  # True: the loop also evaluates the full-data gradient at each boundary

    def on_start(self, run):
        pass

    def on_epoch(self, run):
        return None

    def on_end(self, run, result):
        pass

    def state(self) -> dict | None:
        """This monitor's state as plain data, or None when it keeps none."""
        return None

    def load_state(self, state: dict) -> None:
        """Restore what ``state()`` returned (called after ``on_start`` when a run resumes)."""
        for k, v in state.items():
            setattr(self, k, v)


def _fmt(x) -> str:
    return f"{x:.4g}" if isinstance(x, (float, np.floating)) else str(x)


class Divergence(Monitor):
    """Stops a run whose loss is running away.

    Diverged when the full-data loss at an epoch boundary is NaN or infinite, or when all of
    these hold: it is at least ``growth`` times the starting loss L0 (for L0 < 0: at least
    L0 + (growth - 1) |L0|), it is higher than every loss recorded before it, and it rose at each
    of the last ``patience`` boundaries (growth that continues). The lecture at lr = 0.2
    quadruples its loss every epoch and trips this at epoch 5 (7680 > 1000 x 7.5). A blip from
    a near-zero start is not divergence: Adam started 1e-6 from the lecture's optimum moves by
    about lr on its first step, which multiplies a 7.5e-12 loss by 1e8, then comes back down.
    The loop itself stops at the first step whose batch loss or gradient is not finite.
    """

    def __init__(self, growth: float = 1e3, patience: int = 3):
        self.growth = check_positive("growth", growth)
        self.patience = check_positive("patience", patience, integer=True)

    def on_start(self, run):
        self.start = None   # the run's first full-data loss
        self.peak = -math.inf  # the highest loss recorded so far
        self.recent = []    # the last patience + 1 losses

    def state(self):
        return {"start": self.start, "peak": self.peak, "recent": list(self.recent)}

    def on_epoch(self, run):
        loss = run.history.epoch_loss_list[-1]
        if not math.isfinite(loss):
            return Stop("diverged", f"the loss became {loss} at epoch {run.epoch}")
        if self.start is None:
            self.start = loss
        start, peak = self.start, self.peak
        self.peak = max(peak, loss)
        self.recent = (self.recent + [loss])[-(self.patience + 1):]
        rising = len(self.recent) == self.patience + 1 and all(a < b for a, b in zip(self.recent, self.recent[1:]))
        if rising and loss > peak and loss - start >= (self.growth - 1) * abs(start) and loss > start:
            times = f" (x{loss / start:.3g})" if start > 0 else ""
            return Stop("diverged", f"the loss grew from {_fmt(start)} to {_fmt(loss)}{times} by epoch {run.epoch}, "
                                    f"rising at each of the last {self.patience} epochs")
        return None


class Convergence(Monitor):
    """Converged when the full-data gradient norm ||grad L(w)||_2 at an epoch boundary is <= tol."""

    needs_grad = True

    def __init__(self, tol: float):
        self.tol = check_positive("tol", tol)

    def on_epoch(self, run):
        gnorm = run.history.epoch_grad_norm_list[-1]
        if gnorm <= self.tol:
            return Stop("converged", f"converged: the full-data gradient norm {_fmt(gnorm)} is within tol {_fmt(self.tol)} "
                                     f"at epoch {run.epoch}")
        return None


class EarlyStopping(Monitor):
    """Stops when the full-data loss has not improved by ``min_delta`` for ``patience`` epochs.

    The run returns the best weights seen (status "stopped").
    """

    def __init__(self, patience: int = 5, min_delta: float = 0.0):
        self.patience = check_positive("patience", patience, integer=True)
        self.min_delta = check_positive("min_delta", min_delta, allow_zero=True)

    def on_start(self, run):
        self.best = math.inf
        self.best_epoch = 0
        self.wait = 0

    def state(self):
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def on_epoch(self, run):
        loss = run.history.epoch_loss_list[-1]
        if loss < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = loss, run.epoch, 0
            return None
        self.wait += 1
        if self.wait >= self.patience:
            run.restore_best = True
            return Stop("stopped", f"early stopping: the loss has not improved by more than {_fmt(self.min_delta)} "
                                   f"for {self.patience} epochs (best at epoch {self.best_epoch})")
        return None


class ReduceLROnPlateau(Monitor):
    """Multiplies the learning rate by ``factor`` when the loss has not improved (relative
    ``threshold``) for ``patience`` epochs, as PyTorch's ReduceLROnPlateau(mode="min",
    threshold_mode="rel"); waits ``cooldown`` epochs after a cut and never goes below ``min_lr``;
    a cut smaller than ``eps`` (absolute, as PyTorch's) is skipped.
    The cut is applied through ``state.lr_scale``, the one multiplier the optimizer reads.
    """

    def __init__(self, factor: float = 0.1, patience: int = 10, threshold: float = 1e-4, cooldown: int = 0,
                 min_lr: float = 0.0, eps: float = 1e-8):
        if not 0 < factor < 1:
            raise ParameterError(f"ReduceLROnPlateau: factor must be in (0, 1); got {factor!r}.")
        self.factor = factor
        self.patience = check_positive("patience", patience, integer=True, allow_zero=True)
        self.threshold = check_positive("threshold", threshold, allow_zero=True)
        self.cooldown = check_positive("cooldown", cooldown, integer=True, allow_zero=True)
        self.min_lr = check_positive("min_lr", min_lr, allow_zero=True)
        self.eps = check_positive("eps", eps, allow_zero=True)

    def on_start(self, run):
        self.best = math.inf
        self.bad_epochs = 0
        self.cooldown_left = 0
        self.cuts = []

    def state(self):
        return {"best": self.best, "bad_epochs": self.bad_epochs, "cooldown_left": self.cooldown_left,
                "cuts": [list(c) for c in self.cuts]}

    def load_state(self, state):
        super().load_state(state)
        self.cuts = [tuple(c) for c in self.cuts]

    def on_epoch(self, run):
        loss = run.history.epoch_loss_list[-1]
        if loss < self.best * (1 - self.threshold):
            self.best = loss
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.bad_epochs = 0
        if self.bad_epochs > self.patience:
            lr = run.optimizer.lr_at(run.state)
            new = max(lr * self.factor, self.min_lr)
            if lr - new > self.eps:
                run.state.lr_scale *= new / lr
                self.cuts.append((run.epoch, new))
            self.cooldown_left = self.cooldown
            self.bad_epochs = 0
        return None


class Progress(Monitor):
    """A rich progress bar over epochs with the current loss, shown only once a run has taken
    longer than ``delay`` seconds (quick fits print nothing). Writes to stderr by default."""

    def __init__(self, description: str = "fitting", delay: float = 0.5, console=None, transient: bool = True):
        self.description = description
        self.delay = delay
        self.console = console
        self.transient = transient
        self.bar = None

    def on_start(self, run):
        import time

        self._clock = time.perf_counter
        self._t0 = self._clock()
        self.bar = None

    def _start_bar(self, run):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeElapsedColumn

        self.bar = Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(),
                       console=self.console or Console(stderr=True), transient=self.transient)
        self.task = self.bar.add_task(self.description, total=run.epochs, loss="-")
        self.bar.start()

    def on_epoch(self, run):
        if self.bar is None and self._clock() - self._t0 >= self.delay:
            self._start_bar(run)
        if self.bar is not None:
            self.bar.update(self.task, completed=run.epoch, loss=_fmt(run.history.epoch_loss_list[-1]))
        return None

    def on_end(self, run, result):
        if self.bar is not None:
            self.bar.stop()

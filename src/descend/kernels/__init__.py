"""Compiled epoch runners (numba) for LinearRegression and LogisticRegression.

``minimize(..., backend="auto")`` uses them for the built-in linear models with any of the
built-in optimizers; ``backend="numpy"`` forces the plain path, ``backend="numba"`` demands
this one. They plug in exactly where :func:`descend.loop.numpy_epoch` runs and keep its
contract: per-step loss, gradient norm and learning rate written into the loop's arrays,
``progress[0]`` = steps done (Ctrl-C keeps a partial epoch: the epoch runs in chunks and
control returns to Python between them), and a stop before the update at the first batch
whose loss or gradient is not finite.

One algorithm: the kernels run the update rules of :mod:`descend.optim` and the per-row
losses of the objectives (``pointwise``) compiled as they are; see ``_compiled.py``. The
numbers equal the plain path's to rounding (the order of sums differs).

- Per-sample and mini-batch epochs run serially in compiled code (each step depends on the
  last), prefetching the rows a few steps ahead of a shuffled order.
- A full-batch step computes the loss and the gradient in one parallel pass over X (X.w and
  X^T r fused); the same pass serves the loop's epoch-boundary losses.
- float32 data stays float32 in memory (half the bytes to read); every sum is accumulated in
  float64, so the results match the plain path, which also upcasts.
- Per-sample epochs (one-row batches) take a leaner loop: the decision z = x.w and the row's
  squared norm ||[x, 1]||^2 in one pass, so the gradient norm is sqrt(dz^2 ||[x, 1]||^2)
  without a second pass over g (equal to ||g|| up to rounding); ``progress`` is written once
  per call (Ctrl-C is only seen between calls anyway).
- The shuffled row order is NumPy's own: :func:`epoch_order` computes
  ``np.random.default_rng([seed, epoch]).permutation(n)`` bit for bit in compiled code (PCG64
  and NumPy's Fisher-Yates inlined; ~1.5x faster than the call through NumPy), so the loop's
  order on this path is the plain path's, as the tests check.
- Compiled code is cached on disk (numba ``cache=True``), one specialisation per dtype.

This module imports numba only when a kernel first runs.
"""

from __future__ import annotations

import functools

import math

import numpy as np

from .. import schedules
from ..objectives import LinearRegression, LogisticRegression
from ..optim import Optimizer

__all__ = ["unsupported", "numba_epoch", "full_loss", "full_loss_and_grad", "epoch_order", "STEPS_PER_CALL"]

STEPS_PER_CALL = 1 << 16  # steps per compiled call; Ctrl-C is seen between calls

_MODELS = (LinearRegression, LogisticRegression)


def _rule_names():
    from .. import optim

    return (optim.sgd_rule, optim.adam_rule, optim.nadam_rule, optim.rmsprop_rule, optim.adagrad_rule,
            optim.adadelta_rule)


def unsupported(objective, optimizer) -> str | None:
    """Why the kernels cannot run this objective/optimizer pair, or None when they can (no numba import)."""
    if type(objective) not in _MODELS:
        return (f"the numba backend runs LinearRegression and LogisticRegression only; "
                f"got {type(objective).__name__}")
    cls = type(optimizer)
    if cls.rule not in _rule_names() or cls.step is not Optimizer.step or cls.lr_at is not Optimizer.lr_at:
        return f"the numba backend has no kernel for the optimizer {cls.__name__}"
    return None


def _jit():
    from . import _compiled

    return _compiled


def _ids(objective, optimizer):
    return _MODELS.index(type(objective)), _rule_names().index(type(optimizer).rule)


def numba_epoch(objective, w, optimizer, state, order, batch_size, out_loss, out_gnorm, out_lr, progress):
    """The compiled epoch runner, with :func:`descend.loop.numpy_epoch`'s signature and contract."""
    k = _jit()
    model, rule = _ids(objective, optimizer)
    steps = len(out_loss)
    lrs = schedules.evaluate(optimizer.schedule, state.step, steps) * state.lr_scale
    t0 = state.step
    hp = np.ascontiguousarray(optimizer.hp, dtype=np.float64)
    g = np.zeros(objective.n_params)
    try:
        if order is None:  # full batch: one step on the fused one-pass gradient
            loss = k.full_loss_grad(model, objective.X, objective.y, objective.bias, w, g, True)
            gnorm = math.sqrt(float(g @ g))
            out_loss[0], out_gnorm[0] = loss, gnorm
            if not (math.isfinite(loss) and math.isfinite(gnorm)):
                return False
            k.apply_rule(rule, w, g, lrs[0], float(t0 + 1), state.buffers, hp)
            out_lr[0] = lrs[0]
            progress[0] = 1
            return True
        order = np.ascontiguousarray(order, dtype=np.int64)
        for first in range(0, steps, STEPS_PER_CALL):
            last = min(first + STEPS_PER_CALL, steps)
            if not k.run_steps(model, rule, objective.X, objective.y, objective.bias, w, state.buffers, hp, t0,
                               order, batch_size, first, last, lrs, out_loss, out_gnorm, out_lr, progress, g):
                return False
        return True
    finally:  # the optimizer's step count follows the steps actually taken, also on Ctrl-C
        state.step = t0 + int(progress[0])


def full_loss(objective, w) -> float:
    """The full-data loss in one parallel pass (what ``objective.loss(w)`` computes)."""
    g = np.zeros(objective.n_params)
    return float(_jit().full_loss_grad(_MODELS.index(type(objective)), objective.X, objective.y,
                                            objective.bias, np.asarray(w, dtype=np.float64), g, False))


def full_loss_and_grad(objective, w):
    """The full-data loss and gradient in one parallel pass (what ``objective.loss_and_grad(w)`` computes)."""
    g = np.zeros(objective.n_params)
    loss = _jit().full_loss_grad(_MODELS.index(type(objective)), objective.X, objective.y, objective.bias,
                                      np.asarray(w, dtype=np.float64), g, True)
    return float(loss), g


def epoch_order(n: int, epoch: int, seed: int, shuffle=True) -> np.ndarray:
    """:func:`descend.batching.epoch_order`, the same array, with the shuffled order computed in
    compiled code (NumPy's PCG64 stream and Fisher-Yates, reproduced bit for bit)."""
    from .. import batching

    if (shuffle is not True and not (isinstance(shuffle, np.bool_) and shuffle)) or not _twin_matches_numpy():
        return batching.epoch_order(n, epoch, seed, shuffle)
    return _compiled_permutation(n, epoch, seed)


@functools.cache
def _twin_matches_numpy() -> bool:
    """Once per process: does the compiled permutation still equal this NumPy's? (It reproduces
    NumPy's algorithm; should a NumPy release change it, the kernels fall back to NumPy's order.)"""
    from .. import batching

    return all(np.array_equal(_compiled_permutation(n, e, 7), batching.epoch_order(n, e, 7, True))
               for n, e in ((1, 0), (257, 3), (5000, 11)))


def _compiled_permutation(n: int, epoch: int, seed: int) -> np.ndarray:
    state = np.random.PCG64(np.random.SeedSequence([seed, epoch])).state["state"]
    s, inc, low = state["state"], state["inc"], (1 << 64) - 1
    out = np.empty(n, dtype=np.int64)
    _jit().permutation(out, np.uint64(s >> 64), np.uint64(s & low), np.uint64(inc >> 64), np.uint64(inc & low))
    return out

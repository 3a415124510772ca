r"""Compiled engines (numba) for the model contract, and the contract itself.

The model contract
------------------
A kernel runs any :class:`descend.objectives.LinearModel` whose per-row loss it knows; it
needs from the objective exactly this, and nothing else (see :func:`spec`):

- ``X`` (n, d), float64 or float32 (kept as is: half the bytes to read), C-contiguous, read a
  chunk of rows at a time; ``Y`` (n, m) the targets of those rows (a 2-D view of ``y``:
  m = K target columns for elementwise losses, one column of class indices for softmax);
- ``bias``: whether each of the K outputs has an intercept;
- ``K`` = ``n_outputs``, output blocks sharing X: the parameters are K blocks
  ``[c_k, b_k]`` of ``p = d + bias`` values, ``z_jk = X[j] . c_k + b_k``;
- the pointwise loss and its derivative in z: the objective's own ``pointwise`` (squared
  error, binary cross-entropy, summed over the outputs; or softmax cross-entropy over them),
  compiled, found by identity in :data:`LOSSES`;
- ``l2``: the penalty ``l2 * sum_k ||c_k||^2``, which never touches a bias.

Two entry points serve every engine, in memory (here), streamed from disk or on Dask workers,
because each takes a chunk of rows and nothing global:

- :func:`loss_grad_sums` ``(objective, X_chunk, Y_chunk, w, g_sum) -> loss_sum``: adds the
  chunk's sums ``sum_j d loss_j / d w`` into ``g_sum`` and returns ``sum_j loss_j`` (no mean,
  no penalty). Chunks can be summed anywhere and added up; :func:`finish` turns the totals
  over n rows into the objective's loss and gradient (the mean, plus the penalty). One call
  on all of X is one fused pass: X.w and X^T r together, in parallel over sub-chunks of
  CHUNK_ROWS rows added in a fixed order (the sums do not depend on the number of threads;
  small data runs on one thread, where threads cost more than they give).
- :func:`run_steps` ``(objective, optimizer, state, w, X_chunk, Y_chunk, order, batch_size,
  first, last, lrs, out_loss, out_gnorm, out_lr, progress)``: steps ``first..last-1`` over the
  rows ``order`` of a chunk (batch s = order[s*B : (s+1)*B]): per step the batch's mean loss and
  gradient plus the penalty, the non-finite check (stop before the update), the optimizer's
  rule; each step's loss, gradient norm and learning rate go to ``out_*[s]`` and
  ``progress[0]`` counts the steps done, so a caller records exactly the steps taken.

:func:`numba_epoch` (an in-memory epoch, :func:`descend.loop.numpy_epoch`'s signature and
contract) and :func:`full_loss_and_grad` are built from these two.

One algorithm
-------------
The kernels run the update rules of :mod:`descend.optim` (:data:`RULES`, read off the
optimizer classes) and the per-row losses of the objectives compiled as they are; see
``_compiled.py``. The numbers equal the plain path's to rounding (the order of sums differs).

- Per-sample and mini-batch epochs run serially in compiled code (each step depends on the
  last), prefetching the rows a few steps ahead of a shuffled order. Per-sample epochs on one
  output without a penalty take a leaner loop: the decision z = x.w and the row's squared norm
  ||[x, 1]||^2 in one pass, so the gradient norm is |dz| ||[x, 1]|| without a pass over g.
- float32 data stays float32 in memory; every sum is accumulated in float64, so the results
  match the plain path, which also upcasts.
- The shuffled row order is NumPy's own: :func:`epoch_order` computes
  ``np.random.default_rng([seed, epoch]).permutation(n)`` bit for bit in compiled code (PCG64
  and NumPy's Fisher-Yates inlined; ~1.5x faster than the call through NumPy).
- Compiled code is cached on disk (numba ``cache=True``), one specialisation per dtype.

This module imports numba only when a kernel first runs.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from .. import optim, schedules
from ..objectives import LinearModel, LinearRegression, LogisticRegression, SoftmaxRegression

__all__ = ["Spec", "spec", "unsupported", "loss_grad_sums", "finish", "run_steps", "numba_epoch", "full_loss",
           "full_loss_and_grad", "epoch_order", "OrderPrefetcher", "LOSSES", "RULES", "STEPS_PER_CALL", "SERIAL_MAX_VALUES"]

STEPS_PER_CALL = 1 << 16  # steps per compiled call; Ctrl-C is seen between calls
SERIAL_MAX_VALUES = 1 << 20  # a full-data pass over at most this many values (rows x columns) runs on one thread
# (quiet 2-core VM, passes of the gradient: 200,000 x 20 serial 2.4 ms, parallel 1.3 ms; 1e6 x 32: 27 ms, 15 ms)

# The per-row losses the kernels compile, by identity of the objectives' ``pointwise``.
LOSSES = (LinearRegression.pointwise, LogisticRegression.pointwise, SoftmaxRegression.pointwise)


def _rule_table():
    """The update rules, in a fixed order, read off the optimizer classes of :mod:`descend.optim`
    (each class's ``rule``, in the order the classes are defined; AdamW shares Adam's)."""
    seen = []

    def walk(cls):
        for sub in cls.__subclasses__():
            rule = getattr(sub, "rule", None)
            if sub.__module__ == optim.__name__ and rule is not None and rule not in seen:
                seen.append(rule)
            walk(sub)

    walk(optim.Optimizer)
    return tuple(seen)


RULES = _rule_table()


class Spec(NamedTuple):
    """What the compiled code is told about a model: the index of its loss in LOSSES, K, bias, l2."""

    loss: int
    n_outputs: int
    bias: bool
    l2: float


def spec(objective) -> Spec:
    """The contract's description of ``objective`` (a LinearModel with a loss in LOSSES)."""
    return Spec(_loss_index(objective), int(objective.n_outputs), bool(objective.bias), float(objective.l2))


def _loss_index(objective) -> int:
    f = getattr(type(objective), "pointwise", None)
    for i, known in enumerate(LOSSES):
        if f is known:
            return i
    return -1


def unsupported(objective, optimizer) -> str | None:
    """Why the kernels cannot run this objective/optimizer pair, or None when they can (no numba import)."""
    if not isinstance(objective, LinearModel) or _loss_index(objective) < 0:
        return (f"the numba backend runs linear models with a built-in loss (LinearRegression, "
                f"LogisticRegression, SoftmaxRegression); got {type(objective).__name__}")
    cls = type(optimizer)
    if (getattr(cls, "rule", None) not in RULES or cls.step is not optim.Optimizer.step
            or cls.lr_at is not optim.Optimizer.lr_at):
        return f"the numba backend has no kernel for the optimizer {cls.__name__}"
    return None


def _jit():
    from . import _compiled

    return _compiled


def _rows2d(Y):
    Y = np.asarray(Y)
    return Y.reshape(len(Y), -1)


def loss_grad_sums(objective, X, Y, w, g_sum, want_grad: bool = True) -> float:
    """The partial sums of one chunk of rows: ``g_sum += sum_j d loss_j / d w`` (when
    ``want_grad``) and the return value ``sum_j loss_j``; no mean, no penalty. ``X`` (rows, d)
    and ``Y`` (rows,) or (rows, m) are a chunk of the objective's data (or of data laid out
    like it); ``g_sum`` a float64 vector of ``objective.n_params``."""
    s = spec(objective)
    X = np.ascontiguousarray(X)
    Y = np.ascontiguousarray(_rows2d(Y), dtype=X.dtype)
    w = np.ascontiguousarray(w, dtype=np.float64)
    k = _jit()
    run = k.loss_grad_sums_serial if X.size <= SERIAL_MAX_VALUES else k.loss_grad_sums_parallel
    return float(run(s.loss, s.n_outputs, X, Y, s.bias, w, g_sum, want_grad))


def finish(objective, loss_sum: float, g_sum, n_rows: int, w):
    """(loss, gradient) of the objective from the sums over ``n_rows`` rows: the means, plus the
    L2 penalty on the coefficients (the bias never)."""
    w = np.asarray(w, dtype=np.float64)
    g = np.asarray(g_sum, dtype=np.float64) / n_rows
    loss = loss_sum / n_rows
    if objective.l2:
        mask = objective.coef_mask
        c = w[mask]
        loss += objective.l2 * float(np.sum(c * c))
        g[mask] += 2.0 * objective.l2 * c
    return float(loss), g


def full_loss_and_grad(objective, w):
    """The full-data loss and gradient in one fused pass (what ``objective.loss_and_grad(w)`` computes)."""
    g = np.zeros(objective.n_params)
    total = loss_grad_sums(objective, objective.X, objective.Y, w, g)
    return finish(objective, total, g, objective.n_samples, w)


def full_loss(objective, w) -> float:
    """The full-data loss in one pass (what ``objective.loss(w)`` computes)."""
    g = np.zeros(objective.n_params)
    total = loss_grad_sums(objective, objective.X, objective.Y, w, g, want_grad=False)
    return finish(objective, total, g, objective.n_samples, w)[0]


def run_steps(objective, optimizer, state, w, X, Y, order, batch_size, first, last, lrs, out_loss, out_gnorm,
              out_lr, progress) -> bool:
    """Steps ``first..last-1`` over rows ``order`` of the chunk (X, Y) (see the module docstring).
    ``lrs[s]`` is the learning rate of step s, ``state`` the optimizer's OptState (its
    ``step`` is the count before step ``first``; the caller advances it by the steps done).
    Returns False when it stopped before the update of a non-finite step (progress[0] = that step)."""
    s = spec(objective)
    k = _jit()
    rule = RULES.index(type(optimizer).rule)
    hp = np.ascontiguousarray(optimizer.hp, dtype=np.float64)
    g = np.zeros(objective.n_params)
    z, dz = np.zeros(s.n_outputs), np.zeros(s.n_outputs)
    X = np.ascontiguousarray(X)
    Y = np.ascontiguousarray(_rows2d(Y), dtype=X.dtype)
    return bool(k.run_steps(s.loss, s.n_outputs, s.l2, rule, X, Y, s.bias, w, state.buffers, hp,
                            state.step - first, np.ascontiguousarray(order, dtype=np.int64), batch_size, first,
                            last, lrs, out_loss, out_gnorm, out_lr, progress, g, z, dz))


def numba_epoch(objective, w, optimizer, state, order, batch_size, out_loss, out_gnorm, out_lr, progress):
    """The compiled epoch runner, with :func:`descend.loop.numpy_epoch`'s signature and contract."""
    steps = len(out_loss)
    t0 = state.step
    lrs = schedules.evaluate(optimizer.schedule, t0, steps) * state.lr_scale
    try:
        if order is None:  # full batch: one step on the fused one-pass gradient
            from ..loop import gradient_step

            loss, g = full_loss_and_grad(objective, w)
            return gradient_step(w, loss, g, optimizer, state, 0, out_loss, out_gnorm, out_lr, progress)
        order = np.ascontiguousarray(order, dtype=np.int64)
        for first in range(0, steps, STEPS_PER_CALL):
            last = min(first + STEPS_PER_CALL, steps)
            state.step = t0 + first
            if not run_steps(objective, optimizer, state, w, objective.X, objective.Y, order, batch_size, first,
                             last, lrs, out_loss, out_gnorm, out_lr, progress):
                return False
        return True
    finally:  # the optimizer's step count follows the steps actually taken, also on Ctrl-C
        state.step = t0 + int(progress[0])


def epoch_order(n: int, epoch: int, seed: int, shuffle=True) -> np.ndarray:
    """:func:`descend.batching.epoch_order`, the same array, with the shuffled order computed in
    compiled code (NumPy's PCG64 stream and Fisher-Yates, reproduced bit for bit)."""
    from .. import batching

    if (shuffle is not True and not (isinstance(shuffle, np.bool_) and shuffle)) or not _twin_matches_numpy():
        return batching.epoch_order(n, epoch, seed, shuffle)
    return _compiled_permutation(n, epoch, seed)


PREFETCH_ORDER_ROWS = 100_000  # from this many rows, the next epoch's order is drawn while this epoch runs


class OrderPrefetcher:
    """:func:`epoch_order` for consecutive epochs, drawing epoch e + 1's permutation on a second
    thread (the compiled permutation releases the GIL) while epoch e's steps run. The same arrays
    as :func:`epoch_order`; ``close()`` stops the thread."""

    def __init__(self, epochs: int):
        from concurrent.futures import ThreadPoolExecutor

        self.epochs = epochs  # no order is drawn ahead for an epoch >= epochs
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="descend-order")
        self._next = None  # (key, future)

    def __call__(self, n, epoch, seed, shuffle=True):
        key = (n, epoch, seed, shuffle)
        if self._next is not None and self._next[0] == key:
            order = self._next[1].result()
        else:
            order = epoch_order(n, epoch, seed, shuffle)
        ahead = (n, epoch + 1, seed, shuffle)
        self._next = (ahead, self._pool.submit(epoch_order, *ahead)) if epoch + 1 < self.epochs else None
        return order

    def close(self):
        self._pool.shutdown(wait=False, cancel_futures=True)


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

r"""The learning-rate finder: the range test of Smith (2015), as fastai's ``lr_find``.

Take ``steps`` optimizer steps from ``w0`` with a learning rate that grows exponentially from
``start`` to ``end`` (lr_k = start (end/start)^{k/(steps-1)}, :func:`descend.schedules.exponential`)
and record the loss after each step; stop early once the smoothed loss exceeds ``diverge``
times its best. The steps are the optimizer's own: its ``step`` with that schedule as the
learning rate, no second update rule. Two suggestions are read off the curve:

- **steepest**: the lr where the smoothed loss falls fastest *per unit of log(lr)* within the
  valley below, argmin d smoothed / d log(lr), by ``np.gradient`` on the actual log(lr) values
  (finders that differentiate per index are right only while the rates are exactly
  log-uniform). Searching only the valley keeps the noise of the flat start out.
- **valley** (after fastai's ``valley``): the valley is the stretch of the smoothed curve that
  goes down to its floor (its minimum, index m): it starts at the last point before m where the
  loss was still above L_m + 0.9 (L_top - L_m), L_top the highest loss before m (the loss has
  come a tenth of the way down there), and ends at m. The suggestion is the recorded lr nearest
  to the point 2/3 of the way along the valley in log(lr). (fastai takes the longest decreasing
  subsequence and its midpoint; on an exact, full-batch loss the whole flat start decreases by
  imperceptible amounts and would count as valley, so we measure the valley by how far the loss
  has come down instead.)

With mini-batches (``smooth`` > 0) the first tenth of the steps is a warm-up of the average:
the divergence test and both suggestions start after it, as fastai skips it.

Where the objective knows its Hessian exactly (LinearRegression, LogisticRegression, a
Function given ``hessian``), the result also holds the stable rate 2/lambda_max at ``w0``, the
largest rate at which plain gradient descent is stable *there*. On a quadratic (linear
regression) that holds everywhere: plain full-batch GD diverges above it, and the optimizer's
own limit (momentum, dampening, weight decay: :func:`descend.curvature.stability_limit`) caps the
suggestion at half of it, which the message then says. Elsewhere it is local: logistic
regression's curvature falls as the fit improves, so rates above 2/lambda_max(w0) can still
descend, and the message says so rather than calling the suggestion divergent. Adaptive
optimizers (Adam, ...) have no such limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import batching, schedules
from .errors import ParameterError, check_positive
from .objectives import Function, Objective
from .optim import SGD, Optimizer

__all__ = ["lr_find", "LRFindResult", "steepest", "valley"]

VALLEY_FRACTION = 2.0 / 3.0
VALLEY_START = 0.1  # the valley starts where the loss has come this fraction of the way down


@dataclass
class LRFindResult:
    """What :func:`lr_find` returns.

    ``lrs[i]`` is the learning rate of step i and ``losses[i]`` the (batch) loss right after
    that step, measured on the next batch; ``smoothed`` is the debiased EMA of ``losses``
    (TensorBoard's and fastai's, weight ``smooth``). ``suggestion`` is the valley suggestion,
    or the steepest when there is no valley, capped at half the optimizer's stability limit on a
    quadratic (see the module docstring); None when the curve never goes down.
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestion_steepest: float | None
    suggestion_valley: float | None
    stable_lr: float | None
    suggestion: float | None
    valley: tuple[int, int] | None  # (first, last) index of the valley
    stopped_early: bool
    message: str
    smooth: float
    start_loss: float
    optimizer: Optimizer = field(repr=False)
    batch_size: int | None = None
    backend: str = "numpy"  # the epoch runner that took the steps: "numpy" or "numba"

    @property
    def steps(self) -> int:
        return len(self.lrs)


def steepest(lrs, smoothed, first: int = 0, last: int | None = None) -> float | None:
    """The lr of the steepest descent of ``smoothed`` against log(lr) between indices ``first``
    and ``last`` (default: the curve's minimum), by ``np.gradient`` on the actual log(lr)
    values; finite values only. None with fewer than 3 points or no descent."""
    lrs, s = _finite_prefix(lrs, smoothed)
    if last is None:
        last = first + int(np.argmin(s[first:])) if len(s) > first else first
    lrs, s = lrs[first : last + 1], s[first : last + 1]
    if len(s) < 3:
        return None
    slope = np.gradient(s, np.log(lrs))
    i = int(np.argmin(slope))
    return float(lrs[i]) if slope[i] < 0 else None


def valley(lrs, smoothed, skip: int = 0, fraction: float = VALLEY_FRACTION, start: float = VALLEY_START):
    """The valley rule (see the module docstring) from index ``skip`` on: returns
    (lr, (first, last)) with indices into ``lrs``, or (None, None) when the loss never goes down."""
    lrs, s = _finite_prefix(lrs, smoothed)
    s = s[skip:]
    if len(s) < 2:
        return None, None
    m = int(np.argmin(s))
    top = float(np.max(s[: m + 1]))
    drop = top - float(s[m])
    if m == 0 or not drop > 0:
        return None, None
    above = np.flatnonzero(s[:m] > s[m] + (1.0 - start) * drop)
    first = int(above[-1]) + skip
    last = m + skip
    logs = np.log(lrs)
    target = logs[first] + fraction * (logs[last] - logs[first])
    i = first + int(np.argmin(np.abs(logs[first : last + 1] - target)))
    return float(lrs[i]), (first, last)


def _finite_prefix(lrs, values):
    lrs = np.asarray(lrs, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    k = int(bad[0]) if len(bad) else len(values)
    return lrs[:k], values[:k]


def exact_stable_lr(objective, w) -> float | None:
    """2 / lambda_max of the exact Hessian at ``w``; None when the objective has no exact Hessian
    or is not convex along its top eigenvector there (lambda_max <= 0)."""
    if not _has_exact_hessian(objective):
        return None
    from .diagnose import curvature

    lam = float(curvature(objective, w))
    return 2.0 / lam if lam > 0 and math.isfinite(lam) else None


def _has_exact_hessian(objective) -> bool:
    if isinstance(objective, Function):
        return objective._hessian is not None
    return callable(getattr(objective, "hessian", None)) and type(objective).hessian is not Objective.hessian


def _with_lr(optimizer: Optimizer, lr) -> Optimizer:
    """The same optimizer, hyper-parameters and all, with ``lr`` as its learning rate."""
    return type(optimizer)(**{**optimizer.params(), "lr": lr})


def _ramp_steps(objective, w, optimizer, batch_size, seed, shuffle, total, backend):
    """Run ``total`` steps of ``optimizer`` from ``w`` with the epoch runner of ``backend`` (the
    loop's own: the compiled kernels or the NumPy reference), batches following the loop's row
    order across epochs. Returns (name, loss, gradient norm, lr per step, steps done): a step
    whose batch loss or gradient is not finite stops the run before its update."""
    from . import loop

    name, run_epoch, _, _ = loop._select_backend(backend, objective, optimizer)
    epoch_order = loop._epoch_order(name)
    state = optimizer.init(w)
    out = np.full((3, total), np.nan)
    progress = np.zeros(1, dtype=np.int64)
    n = objective.n_samples
    done, epoch = 0, 0
    while done < total:
        if n is None or batch_size is None:  # one step on every row
            order, m = None, 1
        else:
            m = min(batching.steps_per_epoch(n, batch_size), total - done)
            order = epoch_order(n, epoch, seed, shuffle)[: m * batch_size]
        progress[0] = 0
        ok = run_epoch(objective, w, optimizer, state, order, batch_size, out[0, done : done + m],
                       out[1, done : done + m], out[2, done : done + m], progress)
        done += int(progress[0])
        if not ok:
            break
        epoch += 1
    return name, out[0], out[1], out[2], done


def lr_find(objective, w0, optimizer: Optimizer | None = None, batch_size=None, start: float = 1e-7,
            end: float = 10.0, steps: int = 100, seed=0, smooth: float | None = None, diverge: float = 4.0,
            shuffle: bool = True, backend: str = "auto") -> LRFindResult:
    """Run the learning-rate range test on ``objective`` from ``w0`` (which is left untouched).

    Parameters
    ----------
    optimizer : the optimizer to test (default plain SGD); its own ``lr`` is replaced by the
        exponential ramp, every other hyper-parameter is kept.
    batch_size : as in :func:`descend.minimize` (None: full batch); batches follow the same
        row order, a pure function of (seed, epoch).
    start, end, steps : the ramp: ``steps`` rates from ``start`` to ``end``, geometrically spaced.
    smooth : weight of the debiased EMA of the loss; None means 0.98 (fastai's) with mini-batches
        and 0 (no smoothing: the loss is exact) for full batch.
    diverge : stop once the smoothed loss exceeds ``diverge`` times its best (for a negative
        best, best + (diverge - 1) |best|), or a loss or gradient is not finite.
    backend : as in :func:`descend.minimize`: the steps run on the loop's epoch runners (the
        compiled kernels where they can run the objective), with the same numbers.

    Returns an :class:`LRFindResult` with the rates, raw and smoothed losses, the steepest and
    valley suggestions, the stable rate 2/lambda_max where the Hessian is exact, and a message.
    """
    start = check_positive("start", start)
    end = check_positive("end", end)
    if not end > start:
        raise ParameterError(f"end ({end:g}) must be larger than start ({start:g}).")
    steps = check_positive("steps", steps, integer=True)
    if steps < 3:
        raise ParameterError(f"steps must be at least 3 to read a slope off the curve; got {steps}.")
    check_positive("diverge", diverge)
    if not diverge > 1:
        raise ParameterError(f"diverge must be > 1 (a multiple of the best loss); got {diverge!r}.")
    optimizer = SGD(lr=start) if optimizer is None else optimizer
    if not isinstance(optimizer, Optimizer):
        raise ParameterError(f"optimizer must be a descend.optim optimizer such as SGD(lr=0.01); "
                             f"got {type(optimizer).__name__}.")
    w = objective.check_w(w0, "w0").copy()  # the caller's weights stay as they were
    stable = exact_stable_lr(objective, w)
    n = objective.n_samples
    batch_size = batching.check_batch_size(batch_size, n)
    if smooth is None:
        smooth = 0.98 if (n is not None and batch_size is not None and batch_size < n) else 0.0
    if not (isinstance(smooth, (int, float)) and 0 <= smooth < 1):
        raise ParameterError(f"smooth must be a number in [0, 1); got {smooth!r}.")
    skip = steps // 10 if smooth > 0 else 0
    gamma = (end / start) ** (1.0 / (steps - 1))
    ramp = _with_lr(optimizer, schedules.exponential(start, gamma))
    # steps + 1 batch losses: the loss after step k is the batch loss of step k + 1, before its update
    with np.errstate(all="ignore"):
        backend, step_loss, _, step_lr, done = _ramp_steps(objective, w, ramp, batch_size, seed, shuffle, steps + 1,
                                                           backend)

    lrs, losses, smoothed = [], [], []
    avg, best, stopped_early, why = 0.0, math.inf, False, ""
    start_loss = float(step_loss[0])
    for k in range(steps):
        if k >= done:  # the loss or gradient of step k's batch was not finite: no update
            stopped_early, why = True, f"the loss or gradient became non-finite after step {k}"
            break
        lrs.append(float(step_lr[k]))
        loss = float(step_loss[k + 1])
        losses.append(loss)
        if not math.isfinite(loss):
            smoothed.append(math.nan)
            stopped_early, why = True, f"the loss became {loss} at lr {lrs[-1]:.3g}"
            break
        avg = smooth * avg + (1 - smooth) * loss
        s = avg / (1 - smooth ** len(losses)) if smooth > 0 else loss
        smoothed.append(s)
        if k < skip:
            continue
        best = min(best, s)
        limit = best * diverge if best >= 0 else best + (diverge - 1) * abs(best)
        if s > limit and k < steps - 1:
            stopped_early = True
            why = (f"the smoothed loss {s:.4g} exceeded {diverge:g} x its best ({best:.4g}) "
                   f"at lr {lrs[-1]:.3g}")
            break

    lrs_a, losses_a, smoothed_a = np.array(lrs), np.array(losses), np.array(smoothed)
    val, span = valley(lrs_a, smoothed_a, skip)
    steep = steepest(lrs_a, smoothed_a, *(span or (skip, None)))
    suggestion = val if val is not None else steep
    message = _message(len(lrs_a), steps, stopped_early, why, steep, val, suggestion)
    limit_note, suggestion = _limit_note(objective, optimizer, stable, suggestion)
    message += limit_note
    return LRFindResult(lrs=lrs_a, losses=losses_a, smoothed=smoothed_a, suggestion_steepest=steep,
                        suggestion_valley=val, stable_lr=stable, suggestion=suggestion, valley=span,
                        stopped_early=stopped_early, message=message, smooth=float(smooth),
                        start_loss=start_loss, optimizer=ramp, batch_size=batch_size, backend=backend)


def _limit_note(objective, optimizer, stable, suggestion):
    """(sentence, suggestion): what the stable rate at w0 means for this objective and optimizer,
    and the suggestion, capped at half the optimizer's limit where that limit holds everywhere."""
    if stable is None:
        return "", suggestion
    from .curvature import _linear, stability_limit

    lam = 2.0 / stable
    limit = stability_limit(optimizer, lam)
    if limit is None:
        return (f" Plain gradient descent would be stable below 2/lambda_max = {stable:.4g} at w0; "
                f"{type(optimizer).__name__} has no such limit (it scales each step to about lr)."), suggestion
    if _linear(objective) == "squared":
        formula = limit.formula.replace("λmax", "lambda_max")
        values = ", ".join(([limit.values] if limit.values else []) + [f"lambda_max = {lam:.4g}"]
                           + ([f"wd = {limit.weight_decay:g}"] if limit.weight_decay else []))
        plain = "" if limit.lr == stable else f"; plain gradient descent's is 2/lambda_max = {stable:.4g}"
        text = (f" {type(optimizer).__name__} diverges above its stability limit {formula} = {limit.lr:.4g} "
                f"({values}: the same at every w on this quadratic{plain}).")
        if suggestion is not None and suggestion > limit.lr / 2:
            text += (f" The curve's pick {suggestion:.3g} is above half that limit (the ramp outruns the "
                     f"blow-up), so the suggestion is capped at {limit.lr / 2:.3g}.")
            suggestion = limit.lr / 2
        return text, suggestion
    text = (f" Plain gradient descent is stable below 2/lambda_max = {stable:.4g} at w0 only: this is a local "
            f"limit, and the curvature changes as the weights move")
    if _linear(objective) == "logistic":
        text += " (logistic loss flattens as the fit improves, so larger rates can still descend)"
    if suggestion is not None and suggestion > stable:
        text += f"; that is why the suggested {suggestion:.3g}, above it, still descended in the range test"
    return text + ".", suggestion


def _message(taken, steps, stopped_early, why, steep, val, suggestion) -> str:
    ran = f"stopped after {taken} of {steps} steps: {why}" if stopped_early else f"ran all {steps} steps"
    if suggestion is None:
        text = f"{ran}; the loss never went down, so there is no suggestion (try a larger end rate)."
    else:
        parts = []
        if val is not None:
            parts.append(f"valley {val:.3g}")
        if steep is not None:
            parts.append(f"steepest {steep:.3g}")
        text = f"{ran}; suggested learning rate {suggestion:.3g} ({', '.join(parts)})."
    return text

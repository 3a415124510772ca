r"""The verdict on a finished run: a table of small rules, each decided by checks that fit in a sentence.

:data:`RULES` is read top to bottom; the first rule whose check holds decides the verdict code
and writes the message. Every rule measures what it claims, from quantities the run recorded:

- the full-data loss L_e and the full-data gradient norm g_e = ||∇L(w_e)|| at every epoch
  boundary e (the loop evaluates them there; "gradient norm" in a message always means this);
- the learning rate of every step (the schedule's actual rate, with any plateau cuts);
- the optimizer's own stability limit (:func:`descend.curvature.stability_limit`: weight decay,
  dampening, heavy-ball and Nesterov momentum included), at the curvature λmax of the Hessian,
  computed only when a rule needs it (a divergence, an oscillation or a slow run: never for a
  run that converged);
- the trend of the best loss so far over the last window of epochs, split in thirds.

The verdict codes are :data:`VERDICTS`. A rule's name (``"diverged.above_limit"``) is defined
once, in its row of :data:`RULES`; :class:`Verdict` carries it. The loop attaches
:class:`VerdictMonitor` to every run: it asks for the gradient norm at the boundaries and writes
``result.verdict`` and ``result.message`` at the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import numpy as np

from . import curvature as C
from .monitors import Monitor

__all__ = ["VERDICTS", "RULES", "Rule", "Verdict", "Facts", "judge", "VerdictMonitor",
           "GTOL", "FROZEN", "SLOW_RTOL", "KAPPA", "STEADY"]

VERDICTS = ("converged", "diverged", "oscillating", "too_slow", "stalled", "no_minimum", "ok")
GTOL = 1e-6       # the gradient vanished: g_end <= GTOL * the largest g recorded in the run
FROZEN = 1e-3     # the schedule froze the weights: the last step's rate <= FROZEN * the largest rate used
SLOW_RTOL = 1e-3  # too slow: the loss still to gain at the current pace exceeds this fraction of the gain so far
KAPPA = 100.0     # ill-conditioned: λmax / λmin >= KAPPA
STEADY = 0.05     # a projection is "about": the per-epoch factors of the last two thirds agree within 5% of 1 - ρ


def _g(x) -> str:
    """How every number in a message is printed (tests recompute it and format it the same way)."""
    return f"{x:.4g}"


def _plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


# ---------------------------------------------------------------------------------------------
# What a rule can read: measured once, lazily.


class Facts:
    """The measured facts of a finished run that the rules read (each computed at most once)."""

    def __init__(self, objective, result, stop_message=None):
        self.objective = objective
        self.result = result
        self.stop_message = stop_message
        self.h = result.history
        self.opt = result.optimizer
        self.status = result.status

    # --- losses and gradient norms at the boundaries -----------------------------------------

    @cached_property
    def L(self) -> np.ndarray:
        return np.asarray(self.h.epoch_loss, dtype=np.float64)

    @cached_property
    def end(self) -> int:
        """The boundary whose weights the run returns: the last, or the best one when it kept the best."""
        L = self.L
        if len(L) and self.result.loss != L[-1] and np.any(np.isfinite(L)):
            return int(np.nanargmin(np.where(np.isfinite(L), L, np.nan)))
        return len(L) - 1

    @cached_property
    def G(self) -> np.ndarray:
        """The full-data gradient norm at every boundary (evaluated here where the loop did not)."""
        G = np.array(self.h.epoch_grad_norm, dtype=np.float64)
        for i in {0, self.end}:
            if i < len(G) and math.isnan(G[i]):
                with np.errstate(all="ignore"):
                    g = self.objective.grad(self.h.w_list[i])
                G[i] = math.sqrt(float(g @ g))
        return G

    @cached_property
    def wd(self) -> float:
        """The optimizer's coupled weight decay (added to the gradient): the run then minimises
        L(w) + (wd/2) ||w||², whose gradient is ∇L(w) + wd w. 0 for decoupled decay (AdamW)."""
        if getattr(self.opt, "name", "") == "adamw" or getattr(self.opt, "decoupled_weight_decay", False):
            return 0.0
        return float(getattr(self.opt, "weight_decay", 0.0) or 0.0)

    def _reg_norm(self, i) -> float:
        w = np.asarray(self.h.w_list[i], dtype=np.float64)
        with np.errstate(all="ignore"):
            v = self.objective.grad(w) + self.wd * w
        return math.sqrt(float(v @ v))

    @cached_property
    def g_start(self) -> float:
        return self._reg_norm(0) if self.wd else float(self.G[0])

    @cached_property
    def g_end(self) -> float:
        return self._reg_norm(self.end) if self.wd else float(self.G[self.end])

    @cached_property
    def g_max(self) -> float:
        G = self.G[np.isfinite(self.G)]
        if self.wd:  # the boundaries hold ||∇L||; the regularised norm is known at the start and the end
            G = np.concatenate([G, [x for x in (self.g_start, self.g_end) if math.isfinite(x)]])
        return float(np.max(G)) if len(G) else math.nan

    @cached_property
    def vanished(self) -> bool:
        """The full-data gradient norm at the end is at most GTOL of the largest one recorded."""
        return bool(self.g_end <= GTOL * self.g_max) if self.g_max > 0 else self.g_end == 0

    @property
    def w_end(self) -> np.ndarray:
        return np.asarray(self.result.w, dtype=np.float64)

    # --- the run's setting ----------------------------------------------------------------------

    @cached_property
    def deterministic(self) -> bool:
        """Full batch (or an objective without rows): every step follows the exact gradient."""
        n, b = self.objective.n_samples, self.result.batch_size
        return b is None or n is None or b >= n

    @property
    def name(self) -> str:
        return type(self.opt).__name__

    @cached_property
    def adaptive(self) -> bool:
        return getattr(self.opt, "name", "") != "sgd"

    # --- learning rates actually used -----------------------------------------------------------

    @cached_property
    def rates(self) -> np.ndarray:
        lr = np.asarray(self.h.lr, dtype=np.float64)
        lr = lr[np.isfinite(lr)]
        return lr if len(lr) else np.array([float(self.opt.schedule(0))])

    @property
    def lr_first(self) -> float:
        return float(self.rates[0])

    @property
    def lr_last(self) -> float:
        return float(self.rates[-1])

    @property
    def lr_peak(self) -> float:
        return float(np.max(self.rates))

    @cached_property
    def lr_run(self) -> float:
        """The largest rate of the steps taken after the best boundary (for a diverged run: the
        rate in use while the loss ran away)."""
        lr = np.asarray(self.h.lr, dtype=np.float64)
        steps = np.asarray(self.h.epoch_step)
        if len(steps) and len(lr) == steps[-1] - steps[0]:  # one rate per step kept
            k = int(steps[self.best] - steps[0])
            tail = lr[k:]
            tail = tail[np.isfinite(tail)]
            if len(tail):
                return float(np.max(tail))
        return self.lr_peak

    @cached_property
    def best(self) -> int:
        L = np.where(np.isfinite(self.L), self.L, np.inf)
        return int(np.argmin(L)) if len(L) else 0

    @property
    def constant_rate(self) -> bool:
        return bool(np.all(self.rates == self.rates[0]))

    # --- curvature, only when a rule asks --------------------------------------------------------

    def extremes(self, w):
        """(λmin, λmax) of the Hessian at w: exact when affordable, else 20 Lanczos steps; None on failure."""
        key = id(w)
        cache = self.__dict__.setdefault("_extremes", {})
        if key not in cache:
            try:
                n = C._n_params(self.objective, w)
                with np.errstate(all="ignore"):
                    if C._hessian_affordable(self.objective, n):
                        lam = C.eigenvalues(self.objective, w)
                    else:
                        lam = np.array(C._lanczos(C.hvp(self.objective, w), n, iters=20, rtol=1e-3))
                cache[key] = (lam, float(lam[0]), float(lam[-1])) if np.all(np.isfinite(lam)) else None
            except (ArithmeticError, ValueError, np.linalg.LinAlgError, NotImplementedError):
                cache[key] = None
        got = cache[key]
        return None if got is None else got[1:]

    @cached_property
    def w_curv(self) -> np.ndarray:
        """Where the curvature is read: the best weights of a diverged run, else the returned ones."""
        return np.asarray(self.h.w_list[self.best] if self.status == "diverged" else self.result.w, dtype=np.float64)

    @cached_property
    def lam(self) -> float | None:
        """λmax of the Hessian at ``w_curv`` (SGD-family runs only: nothing else has a limit to compare)."""
        if self.adaptive:
            return None
        ext = self.extremes(self.w_curv)
        return None if ext is None else ext[1]

    @cached_property
    def limit(self):
        """The optimizer's stability limit at λmax (a :class:`descend.curvature.Limit`), or None."""
        if self.lam is None:
            return None
        return C.stability_limit(self.opt, self.lam)

    @cached_property
    def quadratic(self) -> bool:
        """The Hessian is the same at every w (least squares), so a limit read anywhere holds everywhere."""
        return C._linear(self.objective) == "squared"

    @property
    def where(self) -> str:
        return "" if self.quadratic else (" at the best weights" if self.status == "diverged" else " at the end")

    # --- the trend of the best loss ------------------------------------------------------------

    @cached_property
    def trend(self):
        """(d1, d2, d3, k): improvements of the running minimum of the loss over the three thirds of
        the last window of k = 3 * max(2, T // 15) epochs (T epochs run); None when T < 6."""
        L = self.L[np.isfinite(self.L)]
        T = len(L) - 1
        if T < 6:
            return None
        third = max(2, T // 15)
        M = np.minimum.accumulate(L)
        a, b, c, e = M[-3 * third - 1], M[-2 * third - 1], M[-third - 1], M[-1]
        return a - b, b - c, c - e, 3 * third

    @property
    def falling(self) -> bool:
        """The best loss improved over the last third of the window."""
        return self.trend is not None and self.trend[2] > 0

    @cached_property
    def factors(self):
        """(ρ12, ρ23): per-epoch factors by which the improvement shrank from the first to the second
        third, and from the second to the third (NaN where an improvement is not positive)."""
        d1, d2, d3, k = self.trend
        third = k / 3
        f12 = (d2 / d1) ** (1 / third) if d1 > 0 and d2 > 0 else math.nan
        f23 = (d3 / d2) ** (1 / third) if d2 > 0 and d3 > 0 else math.nan
        return f12, f23

    @cached_property
    def remaining(self) -> float:
        """The loss still to gain at the current pace: d3 r / (1 - r), r = d3/d2 the shrink of the last
        third over the one before (inf when the improvement is not shrinking)."""
        d1, d2, d3, k = self.trend
        if not d2 > 0 or d3 >= d2:
            return math.inf
        r = d3 / d2
        return d3 * r / (1 - r)

    @property
    def gained(self) -> float:
        return float(self.L[0] - np.nanmin(self.L))

    @property
    def negligible(self) -> bool:
        return self.remaining <= SLOW_RTOL * max(self.gained, 1e-300)

    @property
    def still_falling(self) -> bool:
        """What is left to gain at the loss's pace exceeds 0.1% of its gain so far (when the pace
        is not slowing, the last third's own gain must exceed it)."""
        if not self.falling:
            return False
        if math.isinf(self.remaining):
            return self.trend[2] > SLOW_RTOL * self.gained
        return not self.negligible

    @property
    def settled(self) -> bool:
        """The gradient vanished, or the loss still falls but what is left at its pace is negligible."""
        return self.vanished or (self.falling and math.isfinite(self.remaining) and self.negligible)

    def projection(self) -> str:
        """How many more epochs at the current pace bring the loss still to gain down to 0.1% of
        what it is now: "about N" when the last two thirds shrank by the same per-epoch factor
        (within STEADY of 1 - ρ), "at least N" when the factor is rising (a slower mode is taking
        over, so the pace will slow further), nothing when it is not steady."""
        f12, f23 = self.factors
        if not 0 < f23 < 1:
            return ""
        n = math.log(1e-3) / math.log(f23)
        steady = math.isfinite(f12) and abs(f23 - f12) <= STEADY * (1 - f23)
        if steady:
            return (f"; its improvement shrinks by a steady factor {f23:.4f} per epoch, so about {n:.0f} more "
                    f"epochs at this pace bring what is left to gain down to 0.1% of what it is now")
        if math.isfinite(f12) and f23 > f12:
            return (f"; its improvement shrinks by a factor {f23:.4f} per epoch, up from {f12:.4f} earlier in the "
                    f"window: the pace is still slowing (more than one mode), so at least {n:.0f} more epochs "
                    f"are needed to bring what is left to gain down to 0.1% of what it is now")
        return ""

    # --- separable data -----------------------------------------------------------------------

    @cached_property
    def separates(self) -> bool:
        """Logistic regression without a penalty whose returned weights classify every training row
        correctly with a positive margin (so scaling them up lowers the loss without end)."""
        if C._linear(self.objective) != "logistic" or float(getattr(self.objective, "l2", 0.0) or 0.0):
            return False
        w = self.w_end
        if not np.all(np.isfinite(w)):
            return False
        z = self.objective.decision(w)
        return bool(np.all(np.where(self.objective.y > 0.5, z, -z) > 0))


# ---------------------------------------------------------------------------------------------
# The messages.


def _gname(f: Facts) -> str:
    if f.wd:
        return f"full-data gradient norm of the loss + (wd/2)|w|² (wd = {_g(f.wd)}, the weight decay)"
    return "full-data gradient norm"


def _grad(f: Facts) -> str:
    return f"{_gname(f)} {_g(f.g_end)} ({_g(f.g_start)} at the start)"


def _rate_story(f: Facts) -> str:
    """The rate actually used: constant, or how the schedule moved it."""
    if f.constant_rate:
        return f"learning rate {_g(f.lr_first)}"
    return f"learning rate {_g(f.lr_run)} (the schedule went from {_g(f.lr_first)} to {_g(f.lr_last)}, peak {_g(f.lr_peak)})"


def _limit_text(f: Facts) -> str:
    lim = f.limit
    vals = ([lim.values] if lim.values else []) + [f"λmax = {_g(lim.lam)}"] + \
        ([f"wd = {_g(lim.weight_decay)}"] if lim.weight_decay else [])
    local = "" if f.quadratic else " local"
    return f"{f.name}'s{local} stability limit{f.where} {lim.formula} = {_g(lim.lr)} ({', '.join(vals)})"


def _safe(f: Facts) -> float:
    """The rate to suggest: half the limit (for plain GD 1/λmax: the fastest rate without zig-zag)."""
    return f.limit.lr / 2


def _say_diverged_above(f: Facts) -> str:
    lim = f.limit
    first = ""
    if not f.constant_rate and f.lr_first <= lim.lr:
        k = int(np.argmax(f.rates > lim.lr))
        first = f"; the schedule first passed the limit at step {k + 1} (rate {_g(f.rates[k])})"
    tail = (" - a schedule should stay below it" if not f.constant_rate else "")
    return (f"diverged: {f.stop_message or 'the loss blew up'}. The {_rate_story(f)} is above "
            f"{_limit_text(f)}{first}; use a smaller rate, at most {_g(_safe(f))}{tail}.")


def _say_diverged_below(f: Facts) -> str:
    row = _steepest_row(f)
    if row is not None:
        lim1 = C.stability_limit(f.opt, row)
        why = (f"each step follows the gradient of one row, and the steepest row's curvature 2 |x_i|² = {_g(row)} "
               f"puts {f.name}'s limit for that row at {_g(lim1.lr)}: use a rate at most {_g(lim1.lr / 2)}, or "
               f"larger batches")
    elif not f.deterministic:
        why = ("each step follows the gradient of a batch, whose curvature can exceed the full-data λmax: "
               "try a rate 10x smaller, or larger batches")
    elif f.quadratic:
        why = "on this quadratic no constant rate below the limit can diverge: the schedule or the optimizer state must have changed the step"
    else:
        why = "the curvature the run met later was steeper than where the limit was read: try a rate 10x smaller"
    return (f"diverged: {f.stop_message or 'the loss blew up'}. The {_rate_story(f)} is below "
            f"{_limit_text(f)}, so {why}.")


def _steepest_row(f: Facts):
    """2 max_i |[x_i 1]|², the largest curvature of a single row's squared error (one pass over X,
    a chunk at a time), for per-sample SGD on least squares; else None."""
    if f.result.batch_size != 1 or not f.quadratic or float(getattr(f.objective, "l2", 0.0) or 0.0):
        return None
    from .objectives import _row_sqnorms

    best = float(np.max(_row_sqnorms(f.objective.X)))  # a chunk of rows at a time
    return 2.0 * (best + (1.0 if f.objective.bias else 0.0))


def _say_diverged_adaptive(f: Facts) -> str:
    return (f"diverged: {f.stop_message or 'the loss blew up'} with {_rate_story(f)}. {f.name} has no "
            f"2/λmax-type stability limit (it scales each coordinate's step to about lr whatever the "
            f"curvature): steps of this size overshoot here; try a rate 10x smaller ({_g(f.lr_run / 10)}).")


def _say_diverged_other(f: Facts) -> str:
    if f.limit is not None and f.limit.lr == 0:
        return (f"diverged: {f.stop_message or 'the loss blew up'} with {_rate_story(f)}: {f.limit.formula}; "
                f"use momentum below 1 (0.9 is usual).")
    return (f"diverged: {f.stop_message or 'the loss blew up'} with {_rate_story(f)}; the curvature was not "
            f"available to compare with a stability limit: try a rate 10x smaller ({_g(f.lr_run / 10)}).")


def _say_separable(f: Facts) -> str:
    norm = float(np.linalg.norm(f.w_end))
    return (f"no minimum: the weights classify every training row correctly (all margins positive), so the "
            f"data are linearly separable and the loss keeps falling as |w| grows without bound "
            f"(|w| = {_g(norm)} now, loss {_g(f.result.loss)}, {_grad(f)}): no finite weights minimise it. "
            f"Add an L2 penalty (alpha in GDClassifier, l2 in the objective) for a finite minimiser, or "
            f"stop early.")


def _critical(f: Facts):
    """The end point's kind when the objective is not convex and its Hessian is cheap: "saddle",
    "maximum", "degenerate" (all ~0) or "minimum" (positive semi-definite counts)."""
    if C._linear(f.objective) is not None or (hasattr(f.objective, "X") and hasattr(f.objective, "pointwise")):
        return "minimum", None  # linear models with convex losses: every critical point is a minimum
    n = C._n_params(f.objective, f.w_end)
    if not C._hessian_affordable(f.objective, n):
        return "minimum", None
    try:
        lam = C.eigenvalues(f.objective, f.w_end)
    except (ArithmeticError, ValueError, np.linalg.LinAlgError):
        return "minimum", None
    kind = C._kind(lam)
    if kind == "degenerate" and np.max(lam) > max(1e-6 * np.max(np.abs(lam)), 1e-12):
        kind = "minimum"  # positive semi-definite: flat along some directions, still a minimum
    return kind, lam


def _say_stalled_critical(f: Facts) -> str:
    kind, lam = f.__dict__["_critical"]
    where = {"saddle": "a saddle point", "maximum": "a local maximum"}.get(kind, "a plateau (flat, degenerate Hessian)")
    eig = ", ".join(_g(x) for x in lam)
    how = "the gradient vanished" if f.vanished else "the loss has settled (under 0.1% of its gain left at its pace)"
    return (f"stalled at {where}: {how} ({_grad(f)}) but the Hessian's eigenvalues there are "
            f"{eig}, so this is not a minimum: the loss still falls in some direction the gradient cannot see. "
            f"A perturbed start or gradient noise (SGD, a mini-batch) escapes.")


def _say_converged(f: Facts) -> str:
    best = getattr(f.objective, "min_value", None)
    at = "a minimum"
    if best is not None and f.result.loss - best > 1e-3 * max(float(f.L[0]) - best, 1e-12):
        at = f"a local minimum (the global minimum is {_g(best)})"
    return (f"converged: the {_gname(f)} fell to {_g(f.g_end)} ({_g(f.g_start)} at the start, "
            f"{_g(f.g_max)} at its largest): at {at}.")


def _say_tol(f: Facts) -> str:
    return (f"converged to tol: the {_grad(f)} is within the tolerance asked for; that is "
            f"{_g(f.g_end / f.g_max)} of its largest ({_g(f.g_max)}), not a vanished gradient, so the "
            f"weights are near a minimum only as far as tol allows: lower tol to go closer.")


def _say_frozen(f: Facts) -> str:
    return (f"stalled: the schedule lowered the learning rate to {_g(f.lr_last)} ({_g(f.lr_last / f.lr_peak)} of its "
            f"peak {_g(f.lr_peak)}) while the gradient had not vanished ({_grad(f)}): the steps shrank to "
            f"nothing before reaching a minimum. Decay the rate more slowly (or later), or start it higher.")


def _reversals(W):
    """(reversals, pairs): consecutive epoch steps s_t, s_t+1 (of the boundary weights ``W``, a
    list) that point back (s_t · s_t+1 < 0), among pairs where both steps are non-negligible
    (> 1e-12 of the largest). Walks the list: no stacked copy of the weights."""
    if len(W) < 3:
        return 0, 0
    def step(t):
        return np.asarray(W[t + 1], dtype=np.float64) - np.asarray(W[t], dtype=np.float64)

    norms = np.array([math.sqrt(float(s @ s)) for s in map(step, range(len(W) - 1))])
    big = norms > 1e-12 * max(float(np.nanmax(norms)) if np.any(np.isfinite(norms)) else 0.0, 1e-300)
    rev = pairs = 0
    prev = step(0)
    for t in range(len(W) - 2):
        cur = step(t + 1)
        dot = float(prev @ cur)
        if big[t] and big[t + 1] and math.isfinite(dot):
            pairs += 1
            rev += dot < 0
        prev = cur
    return int(rev), int(pairs)


def _zigzag(f: Facts) -> bool:
    if "_zigzag" not in f.__dict__:
        rev, pairs = _reversals(f.h.w_list) if len(f.h) >= 4 else (0, 0)
        f.__dict__["_zigzag"] = (rev, pairs)
    rev, pairs = f.__dict__["_zigzag"]
    return pairs > 0 and rev >= 3 and rev >= 0.5 * pairs


def _zig_words(f: Facts) -> str:
    rev, pairs = f.__dict__["_zigzag"]
    return f"the steps reverse direction in {rev} of {pairs} consecutive epochs"


def _radius(f: Facts) -> float:
    return C.iteration_radius(f.opt, f.lr_last, f.lam)


def _say_bounce(f: Facts) -> str:
    return (f"oscillating without converging: {_zig_words(f)}; at the {_rate_story(f)}, right at "
            f"{_limit_text(f)}, the iteration neither shrinks nor grows the distance to the minimum along the "
            f"steepest direction (factor {_g(_radius(f))} per step), so the weights bounce and the loss does not "
            f"move ({_grad(f)}). Use a rate at most {_g(_safe(f))}.")


def _say_overshoot(f: Facts) -> str:
    rho = _radius(f)
    if f.opt.momentum == 0:
        wd = f.opt.weight_decay
        le = f.lam + wd
        one, two = ("1/(λmax + wd)", "2/(λmax + wd)") if wd else ("1/λmax", "2/λmax")
        why = (f"lr {_g(f.lr_last)} is between {one} = {_g(1 / le)} and {two} = {_g(2 / le)} "
               f"(λmax = {_g(f.lam)}{f.where}{', wd = ' + _g(wd) if wd else ''}), so every step overshoots along "
               f"the steepest direction")
        fix = f"a rate at most {one} = {_g(1 / le)} descends without zig-zag"
    else:
        why = (f"{'Nesterov' if f.opt.nesterov else 'heavy-ball'} momentum {_g(f.opt.momentum)} makes the "
               f"iteration spiral in, below {_limit_text(f)}")
        fix = "less momentum damps the zig-zag"
    return (f"oscillating: {_zig_words(f)}: {why}; it still converges, shrinking the distance along the steepest "
            f"direction by a factor {_g(rho)} per step, but the gradient has not vanished yet ({_grad(f)}); "
            f"{fix}, or run more epochs.")


def _say_osc_adaptive(f: Facts) -> str:
    return (f"oscillating: {_zig_words(f)} at the {_rate_story(f)} ({_grad(f)}). {f.name} scales each "
            f"coordinate's step to about lr whatever the gradient's size, so near a minimum it hovers in a band "
            f"about lr wide; a smaller or decaying rate settles it.")


def _say_osc_other(f: Facts) -> str:
    return (f"oscillating: {_zig_words(f)} at the {_rate_story(f)} ({_grad(f)}): the weights zig-zag across "
            f"a valley instead of running along it; a smaller rate (or less momentum) damps it.")


def _slow_head(f: Facts) -> str:
    return (f"too slow: the loss is still falling after {_plural(f.result.epochs, 'epoch')} ({_g(f.L[-1])} now, "
            f"{_grad(f)}){f.projection()}")


def _say_unbounded(f: Facts) -> str:
    return (f"too slow: the loss is still falling after {_plural(f.result.epochs, 'epoch')} ({_g(f.L[-1])} now, "
            f"{_grad(f)}) and its improvement is not shrinking: the run is far from a minimum, or the objective "
            f"is unbounded below; run more epochs (or check the objective).")


def _kappa(f: Facts) -> float:
    lo, hi = _lo_hi(f)
    return hi / lo if lo > 1e-12 * hi else math.inf


def _lo_hi(f: Facts):
    """(λmin, λmax), λmin the smallest eigenvalue above 1e-9 λmax when the whole spectrum is known
    (directions of zero curvature, such as duplicated features, carry no gradient and do not slow
    the run)."""
    lo, hi = f.extremes(f.w_curv)
    lam = f.__dict__["_extremes"][id(f.w_curv)][0]
    if len(lam) > 2:
        pos = lam[lam > 1e-9 * hi]
        if len(pos):
            lo = float(pos[0])
    return lo, hi


def _ill_conditioned(f: Facts) -> bool:
    return f.extremes(f.w_curv) is not None and _kappa(f) >= KAPPA


def _say_conditioning(f: Facts) -> str:
    kappa = _kappa(f)
    lo, hi = _lo_hi(f)
    k = f"condition number λmax/λmin = {_g(kappa)} (λmax = {_g(hi)}, λmin = {_g(lo)})" if math.isfinite(kappa) \
        else f"a singular Hessian (λmin = {_g(lo)}, λmax = {_g(hi)})"
    return (f"{_slow_head(f)}. The rate {_g(f.lr_last)} is already {_g(f.lr_last / f.limit.lr)} of {_limit_text(f)}, "
            f"so no stable rate makes the slowest direction more than {_g(f.limit.lr / f.lr_last)}x faster; the cause is conditioning: {k}, and "
            f"gradient descent needs on the order of λmax/λmin steps. Standardise the features (or use momentum, "
            f"or Adam).")


def _say_small_lr(f: Facts) -> str:
    return (f"{_slow_head(f)}. The rate {_g(f.lr_last)} is only {_g(f.lr_last / f.limit.lr)} of "
            f"{_limit_text(f)}: raise it towards {_g(_safe(f))}, or run more epochs.")


def _say_slow_other(f: Facts) -> str:
    return f"{_slow_head(f)}; run more epochs{'' if f.adaptive else ' or use a larger learning rate'}."


def _say_nearly(f: Facts) -> str:
    return (f"nearly converged: the loss is still falling ({_g(f.L[-1])} now), but what is left to gain at its "
            f"pace, about {_g(f.remaining)}, is under 0.1% of the {_g(f.gained)} gained so far; the {_grad(f)} has "
            f"not vanished yet (converged means at most 1e-6 of its largest, {_g(f.g_max)}): run more epochs to "
            f"finish.")


def _say_stopped(f: Facts) -> str:
    return f"stopped before the end ({_grad(f)})."


def _say_noise(f: Facts) -> str:
    if f.constant_rate:
        fix = "a decaying schedule or larger batches would settle them"
    else:
        fix = (f"the schedule has taken the rate from {_g(f.lr_peak)} to {_g(f.lr_last)}; lowering it further "
               f"(or larger batches) would settle them")
    return (f"leveled off: the loss is at {_g(f.L[-1])} and what it still gains is under 0.1% of its gain so far, "
            f"while the {_grad(f)} has not vanished: the noise of batch gradients at {_rate_story(f)} keeps the weights moving around the minimum; {fix}.")


def _say_hover(f: Facts) -> str:
    return (f"leveled off: the loss is at {_g(f.L[-1])} and what it still gains is under 0.1% of its gain so far, "
            f"while the {_grad(f)} has not vanished, at the {_rate_story(f)}: the steps keep hovering near a minimum instead of settling; a smaller or "
            f"decaying rate would settle them.")


# ---------------------------------------------------------------------------------------------
# The table.


@dataclass(frozen=True)
class Rule:
    """One row of the verdict table: ``name`` (defined here only), the verdict ``code``, the
    ``check`` in one sentence, the test ``when(facts)`` and the message ``say(facts)``."""

    name: str
    code: str
    check: str
    when: Callable[[Facts], bool]
    say: Callable[[Facts], str]


def _has_limit(f: Facts) -> bool:
    return f.limit is not None and 0 < f.limit.lr < math.inf


def _not_convex_point(f: Facts) -> bool:
    if "_critical" not in f.__dict__:
        f.__dict__["_critical"] = _critical(f)
    return f.__dict__["_critical"][0] != "minimum"


RULES: tuple[Rule, ...] = (
    Rule("diverged.above_limit", "diverged",
         "the run diverged and the largest rate used after its best epoch exceeds the optimizer's stability "
         "limit at λmax (weight decay, dampening and momentum included)",
         lambda f: f.status == "diverged" and _has_limit(f) and f.lr_run > f.limit.lr, _say_diverged_above),
    Rule("diverged.below_limit", "diverged",
         "the run diverged although the rate in use is below the optimizer's stability limit at the best weights",
         lambda f: f.status == "diverged" and _has_limit(f), _say_diverged_below),
    Rule("diverged.adaptive", "diverged",
         "the run diverged with an adaptive optimizer (Adam, RMSprop, ...), which has no 2/λmax-type limit",
         lambda f: f.status == "diverged" and f.adaptive, _say_diverged_adaptive),
    Rule("diverged.other", "diverged",
         "the run diverged and no stability limit could be computed",
         lambda f: f.status == "diverged", _say_diverged_other),
    Rule("no_minimum.separable", "no_minimum",
         "unpenalised logistic regression whose final weights classify every training row correctly",
         lambda f: f.separates, _say_separable),
    Rule("stalled.critical_point", "stalled",
         "the gradient vanished (<= 1e-6 of its largest) or the loss settled (under 0.1% of its gain left at its "
         "pace) where the Hessian has a negative eigenvalue or is ~0",
         lambda f: f.settled and _not_convex_point(f), _say_stalled_critical),
    Rule("converged.minimum", "converged",
         "the full-data gradient norm at the end is at most 1e-6 of the largest recorded in the run",
         lambda f: f.vanished, _say_converged),
    Rule("converged.tol", "converged",
         "the run stopped because the full-data gradient norm fell within tol, before it vanished",
         lambda f: f.status == "converged", _say_tol),
    Rule("stalled.lr_decayed", "stalled",
         "the last step's rate is at most 1e-3 of the largest rate used and the gradient has not vanished",
         lambda f: f.lr_last <= FROZEN * f.lr_peak, _say_frozen),
    Rule("oscillating.no_progress", "oscillating",
         "full batch, the steps reverse direction in >= half of consecutive epochs, and the optimizer's "
         "iteration factor along λmax is >= 1 (at its stability limit)",
         lambda f: f.deterministic and _zigzag(f) and _has_limit(f) and _radius(f) >= 1 - 1e-9, _say_bounce),
    Rule("oscillating.overshoot", "oscillating",
         "full batch, the steps reverse direction in >= half of consecutive epochs, below the stability limit",
         lambda f: f.deterministic and _zigzag(f) and _has_limit(f), _say_overshoot),
    Rule("oscillating.adaptive", "oscillating",
         "full batch, the steps of an adaptive optimizer reverse direction in >= half of consecutive epochs",
         lambda f: f.deterministic and _zigzag(f) and f.adaptive, _say_osc_adaptive),
    Rule("oscillating.other", "oscillating",
         "full batch and the steps reverse direction in >= half of consecutive epochs",
         lambda f: f.deterministic and _zigzag(f), _say_osc_other),
    Rule("too_slow.not_slowing", "too_slow",
         "the best loss still improves by more than 0.1% of its gain so far per third of the window, "
         "and its improvement is not shrinking",
         lambda f: f.still_falling and math.isinf(f.remaining), _say_unbounded),
    Rule("too_slow.conditioning", "too_slow",
         "the loss still falls (what is left at its pace exceeds 0.1% of the gain so far), full batch, the rate "
         "is at least 1/4 of the stability limit, and λmax/λmin >= 100",
         lambda f: f.still_falling and f.deterministic and _has_limit(f) and f.lr_last >= f.limit.lr / 4
         and _ill_conditioned(f), _say_conditioning),
    Rule("too_slow.small_lr", "too_slow",
         "the loss still falls, full batch, and the rate is below 1/4 of the optimizer's stability limit",
         lambda f: f.still_falling and f.deterministic and _has_limit(f) and f.lr_last < f.limit.lr / 4,
         _say_small_lr),
    Rule("too_slow.more_epochs", "too_slow",
         "the loss still falls and what is left to gain at its pace exceeds 0.1% of the gain so far",
         lambda f: f.still_falling, _say_slow_other),
    Rule("ok.nearly_converged", "ok",
         "the loss still falls, but what is left to gain at its pace is under 0.1% of the gain so far",
         lambda f: f.falling and math.isfinite(f.remaining) and f.negligible, _say_nearly),
    Rule("ok.stopped", "ok",
         "a monitor or an interruption stopped the run",
         lambda f: f.status == "stopped", _say_stopped),
    Rule("ok.noise", "ok",
         "mini-batch run whose loss leveled off (under 0.1% of its gain left) before the gradient vanished",
         lambda f: not f.deterministic, _say_noise),
    Rule("ok.hover", "ok",
         "full-batch run whose loss leveled off (under 0.1% of its gain left) before the gradient vanished",
         lambda f: True, _say_hover),
)


@dataclass(frozen=True)
class Verdict:
    """A run's verdict: ``code`` in VERDICTS, a ``message`` that explains it, the ``rule`` (a name in
    RULES) that decided it, and the curvature numbers it used (None when they were not needed)."""

    code: str
    message: str
    curvature: float | None = None
    stable_lr: float | None = None
    rule: str = ""

    def __str__(self):
        return self.message


def _facts_tail(result, stop_message):
    """The plain facts of how the run ended."""
    loss = result.loss
    h = result.history
    L = h.epoch_loss
    best_epoch = int(np.nanargmin(np.where(np.isfinite(L), L, np.nan))) if len(h) and np.any(np.isfinite(L)) else 0
    if result.status == "diverged":
        return f"Returning the best weights seen (epoch {best_epoch}, loss {_g(loss)})."
    if result.status == "max_epochs":
        return f"Ran all {result.epochs} epochs; final loss {_g(loss)}."
    if stop_message is None:
        return f"Final loss {_g(loss)}."
    if stop_message.startswith("converged: "):
        stop_message = "Stopped: " + stop_message[len("converged: "):]
    last = h.epoch_loss_list[-1] if len(h) else loss
    if last != loss:
        return f"{stop_message}; returning the best weights seen (epoch {best_epoch}, loss {_g(loss)})."
    return f"{stop_message}; final loss {_g(loss)}."


def judge(objective, result, stop_message: str | None = None) -> Verdict:
    """Why a finished run ended where it did, and what to change: the first rule of :data:`RULES`
    whose check holds decides. Curvature is computed only when a rule needs it (never for a run
    whose gradient vanished on a convex objective); everything else is read from the history."""
    f = Facts(objective, result, stop_message)
    tail = _facts_tail(result, stop_message)
    if not len(f.L):
        return Verdict("ok", tail, rule="ok.hover")
    with np.errstate(all="ignore"):
        for rule in RULES:
            try:
                if not rule.when(f):
                    continue
                msg = rule.say(f)
            except (ArithmeticError, ValueError, np.linalg.LinAlgError):
                continue  # a measurement this rule needs failed (e.g. a singular curvature): the next rule
            lam = f.__dict__.get("lam")
            return Verdict(rule.code, f"{msg} {tail}", lam, 2 / lam if lam else None, rule.name)
    return Verdict("ok", tail, rule="ok.hover")  # pragma: no cover - the last rule always holds


class VerdictMonitor(Monitor):
    """The end-of-run monitor every ``minimize`` run carries: it asks the loop for the full-data
    gradient norm at each boundary and, at the end, writes ``result.verdict`` (a code of
    :data:`VERDICTS`), ``result.message`` and ``result.rule`` from :func:`judge`."""

    needs_grad = True

    def on_end(self, run, result):
        v = judge(run.objective, result, result.reason or None)
        result.verdict, result.message = v.code, v.message
        result.rule = v.rule

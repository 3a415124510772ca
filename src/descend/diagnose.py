"""Diagnostics: smoothing of loss curves, curvature, the stable learning rate, critical points,
the verdict on a finished run, and the census of basins of attraction."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import ParameterError, check_positive

__all__ = ["smooth", "curvature", "stable_lr", "classify", "eigenvalues", "verdict", "Verdict", "VERDICTS",
           "basins", "Basins"]


def smooth(values, weight: float = 0.6) -> np.ndarray:
    """TensorBoard's scalar smoothing: a debiased exponential moving average, point for point.

    last = weight * last + (1 - weight) * v;  smoothed = last / (1 - weight^k)
    after k finite values. The first finite point is returned exactly; non-finite values are
    passed through without advancing the average; a constant series is returned unchanged;
    ``weight`` is clamped to [0, 1] (at 1 TensorBoard's formula gives 0 for every finite point).
    """
    y = np.asarray(values, dtype=np.float64).ravel()
    weight = min(max(float(weight), 0.0), 1.0)
    out = y.copy()
    if y.size == 0 or np.all(y == y[0]):
        return out
    last, count = 0.0, 0
    for i, v in enumerate(y):
        if not math.isfinite(v):
            continue
        last = last * weight + (1 - weight) * v
        count += 1
        debias = 1.0 - weight**count if weight != 1 else 1.0
        out[i] = last / debias
    return out


# ---------------------------------------------------------------------------------------------
# Curvature: the Hessian's extreme eigenvalues, exactly when the objective has an exact Hessian.

EXACT_MAX_PARAMS = 2000   # above this, never form the Hessian: Lanczos on H v instead
EXACT_MAX_FLOPS = 2e9     # nor when forming it (n_samples * n_params^2) would cost more than this
FD_MAX_PARAMS = 50        # a finite-difference Hessian (2 n gradients) only for this few parameters


def _exact_hessian(objective) -> bool:
    """Whether ``objective.hessian`` is exact (a formula) rather than the base class's differences."""
    from .objectives import Function, Objective

    if isinstance(objective, Function):
        return objective._hessian is not None
    impl = getattr(type(objective), "hessian", None)
    return impl is not None and impl is not Objective.hessian


def _n_params(objective, w) -> int:
    return int(objective.n_params if objective.n_params is not None else np.size(w))


def _hessian_affordable(objective, n: int) -> bool:
    if not _exact_hessian(objective):
        return n <= FD_MAX_PARAMS
    if getattr(objective, "streamed", False):  # rows on disk: the exact Hessian is one pass, Lanczos two per step
        return n <= EXACT_MAX_PARAMS
    return n <= EXACT_MAX_PARAMS and (objective.n_samples or 1) * n * n <= EXACT_MAX_FLOPS


def _start_w(objective, w):
    if w is None:
        if objective.n_params is None:
            raise ParameterError("w is needed: this objective does not know its number of parameters.")
        return np.zeros(objective.n_params)
    return objective.check_w(w, "w")


def _hvp(objective, w):
    """H v by central differences of the gradient, step h = eps^(1/3) max(1, ||w||) along the unit v.

    Exact up to rounding for quadratics (linear regression); O(h^2) ~ 1e-11 relative otherwise.
    """
    h = np.finfo(np.float64).eps ** (1 / 3) * max(1.0, float(np.linalg.norm(w)))

    def hv(v):
        return (objective.grad(w + h * v) - objective.grad(w - h * v)) / (2 * h)

    return hv


def _lanczos(hv, n, iters=100, rtol=1e-6, seed=0):
    """(λmin, λmax) of the symmetric operator ``hv`` by the Lanczos iteration.

    m <= ``iters`` Hessian-vector products (and m * n <= 5e7 stored numbers) build an orthonormal
    Krylov basis (fully re-orthogonalised); the extreme eigenvalues of the small tridiagonal
    matrix T_m (the Ritz values) converge to the Hessian's extremes far faster than power
    iteration does. Stops when both extremes change by at most ``rtol`` (relative to the largest
    magnitude) from one step to the next, or when the Krylov space is exhausted.
    """
    m = int(max(1, min(n, iters, max(2, int(5e7 // max(n, 1))))))
    Q = np.empty((m + 1, n))
    q = np.random.default_rng(seed).standard_normal(n)
    Q[0] = q / np.linalg.norm(q)
    alpha, beta = [], []
    prev = None
    ritz = np.array([0.0])
    for j in range(m):
        u = np.asarray(hv(Q[j]), dtype=np.float64)
        a = float(Q[j] @ u)
        alpha.append(a)
        u = u - a * Q[j] - (beta[-1] * Q[j - 1] if j > 0 else 0.0)
        u -= Q[: j + 1].T @ (Q[: j + 1] @ u)  # full re-orthogonalisation
        T = np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)
        ritz = np.linalg.eigvalsh(T)
        if not np.all(np.isfinite(ritz)):
            break
        scale = max(float(np.max(np.abs(ritz))), 1e-300)
        b = float(np.linalg.norm(u))
        if prev is not None and abs(ritz[-1] - prev[1]) <= rtol * scale and abs(ritz[0] - prev[0]) <= rtol * scale:
            break
        if not np.isfinite(b) or b <= 1e-12 * scale:
            break
        prev = (ritz[0], ritz[-1])
        beta.append(b)
        Q[j + 1] = u / b
    return float(ritz[0]), float(ritz[-1])


def eigenvalues(objective, w=None, iters: int = 100, rtol: float = 1e-6, seed=0) -> np.ndarray:
    """The Hessian's eigenvalues at ``w`` (ascending) when it can be formed cheaply, else its two
    extremes (λmin, λmax) by the Lanczos iteration. See :func:`curvature` for the rules."""
    w = _start_w(objective, w)
    n = _n_params(objective, w)
    if _hessian_affordable(objective, n):
        return np.linalg.eigvalsh(np.asarray(objective.hessian(w), dtype=np.float64).reshape(n, n))
    return np.array(_lanczos(_hvp(objective, w), n, iters=iters, rtol=rtol, seed=seed))


def curvature(objective, w=None, iters: int = 100, rtol: float = 1e-6, seed=0) -> float:
    r"""The largest eigenvalue λmax of the Hessian at ``w`` (default: zeros; constant for linear regression).

    - Exact, by ``numpy.linalg.eigvalsh``, when the objective has an exact Hessian (linear
      regression: 2/N [X 1]ᵀ[X 1]; logistic regression; the landscapes; a Function given
      ``hessian=``) and forming it is cheap: at most 2000 parameters and
      n_samples · n_params² <= 2e9 flops.
    - Otherwise iteratively from Hessian-vector products taken by central differences of the
      gradient, H v ≈ (∇L(w + h v) - ∇L(w - h v)) / 2h with h = eps^(1/3) max(1, ||w||) (exact
      up to rounding on quadratics, O(h²) otherwise): two gradients per iteration, at most
      ``iters`` iterations, stopping when the estimate changes by at most ``rtol`` (relative)
      from one iteration to the next. The iteration is Lanczos (power iteration's Krylov
      refinement: the same products, but the extremes converge in far fewer of them, and the
      largest *algebraic* eigenvalue comes out even when a negative one dominates in size).
      Expect ~``rtol`` relative accuracy; close top eigenvalues converge more slowly.

    Plain gradient descent on a quadratic with this curvature diverges above lr = 2 / λmax
    (see :func:`stable_lr`); the lecture's cost 7.5 (w - 2)² has λmax = 15.
    """
    return float(eigenvalues(objective, w, iters=iters, rtol=rtol, seed=seed)[-1])


def stable_lr(objective, w=None, **kwargs) -> float:
    """2 / λmax: plain gradient descent diverges above this learning rate (the lecture: 2/15).

    Infinite when the curvature is not positive (no step size makes a concave or flat
    direction diverge by overshooting). Keyword arguments go to :func:`curvature`.
    """
    lam = curvature(objective, w, **kwargs)
    return 2.0 / lam if lam > 0 else math.inf


def classify(objective, w, tol: float = 1e-6, atol: float = 1e-12) -> str:
    """What kind of critical point ``w`` is, from the signs of the Hessian's eigenvalues.

    An eigenvalue counts as zero when |λ| <= max(tol · max|λ|, atol) (``tol`` relative to the
    largest magnitude, ``atol`` an absolute floor). Then: eigenvalues of both signs ->
    "saddle"; any zero (and no sign change) -> "degenerate" (the second-derivative test cannot
    tell; the monkey saddle's origin, where the Hessian vanishes); all positive -> "minimum";
    all negative -> "maximum". It does not check that the gradient vanishes at ``w``: it
    classifies the curvature there. Finite-difference Hessians carry ~1e-5 relative error:
    pass a larger ``tol`` for objectives without an exact Hessian.
    """
    lam = eigenvalues(objective, w)
    return _kind(lam, tol, atol)


def _kind(lam, tol=1e-6, atol=1e-12) -> str:
    lam = np.asarray(lam, dtype=np.float64)
    if not np.all(np.isfinite(lam)):
        return "degenerate"
    zero = max(tol * float(np.max(np.abs(lam))), atol)
    pos, neg = bool(np.any(lam > zero)), bool(np.any(lam < -zero))
    if pos and neg:
        return "saddle"
    if np.any(np.abs(lam) <= zero):
        return "degenerate"
    return "minimum" if pos else "maximum"


# ---------------------------------------------------------------------------------------------
# The verdict on a finished run.

VERDICTS = ("converged", "diverged", "oscillating", "too_slow", "stalled", "ok")
GTOL = 1e-6        # "the gradient vanished": ||g_end|| <= GTOL ||g_start|| (or <= 1e-12 if it started at 0)
SLOW_RTOL = 1e-3   # "too slow": the improvement still to come exceeds this fraction of the improvement so far


@dataclass(frozen=True)
class Verdict:
    """A run's verdict: ``code`` in VERDICTS, a ``message`` that explains it, and the curvature
    numbers it used (None when they were not needed)."""

    code: str
    message: str
    curvature: float | None = None
    stable_lr: float | None = None

    def __str__(self):
        return self.message


def _fmt(x) -> str:
    return f"{x:.4g}"


def _lr0(optimizer) -> float:
    return float(optimizer.schedule(0))


def _plain_gd(optimizer) -> bool:
    """Plain (or heavy-ball) SGD: the rule whose stability limit 2(1 + μ)/λmax is known."""
    return getattr(optimizer, "name", "") == "sgd" and not getattr(optimizer, "nesterov", False)


def _deterministic(result, objective) -> bool:
    n = objective.n_samples
    return result.batch_size is None or n is None or result.batch_size >= n


def _convex(objective) -> bool:
    from .objectives import LinearRegression, LogisticRegression

    return isinstance(objective, (LinearRegression, LogisticRegression))


def _reversals(W):
    """(reversals, pairs): consecutive epoch steps s_t, s_t+1 that point back (s_t · s_t+1 < 0)."""
    if len(W) < 3:
        return 0, 0
    S = np.diff(W, axis=0)
    norms = np.linalg.norm(S, axis=1)
    big = norms > 1e-12 * max(float(norms.max()), 1e-300)
    dots = np.einsum("ij,ij->i", S[:-1], S[1:])
    both = big[:-1] & big[1:] & np.isfinite(dots)
    return int(np.sum(dots[both] < 0)), int(np.sum(both))


def _trend(L):
    """(falling, rate, remaining): is the best loss so far still improving at the end, and how much more?

    On the running minimum M of the epoch losses (so oscillation and noise do not hide a trend),
    over the last window of k = max(4, T/5) epochs split in halves: falling when the second half
    still improved M; d1, d2 the improvements of the two halves give the per-epoch factor
    rate = (d2/d1)^(2/k) by which the improvement shrinks, and the improvement still to come at
    that rate, remaining = d2 ρ/(1 - ρ) with ρ = d2/d1 (inf when the improvement is not shrinking).
    """
    L = np.asarray(L, dtype=np.float64)
    L = L[np.isfinite(L)]
    if len(L) < 5:
        return False, math.nan, 0.0
    M = np.minimum.accumulate(L)
    k = max(4, len(L) // 5)
    k -= k % 2
    a, m, e = M[-k - 1], M[-k // 2 - 1], M[-1]
    d1, d2 = a - m, m - e
    if not d2 > 0:
        return False, math.nan, 0.0
    if not d1 > d2:
        return True, math.inf if d1 <= 0 else (d2 / d1) ** (2 / k), math.inf
    rho = d2 / d1
    return True, rho ** (2 / k), d2 * rho / (1 - rho)


def _curvature_cheap(objective, w):
    """λmax when it costs at most a few dozen gradients (or an affordable exact Hessian); else None."""
    try:
        n = _n_params(objective, w)
        if _hessian_affordable(objective, n):
            lam = curvature(objective, w)
        else:  # at most 2 x 20 gradients: 20 Lanczos steps
            lam = curvature(objective, w, iters=20, rtol=1e-3)
        return lam if math.isfinite(lam) else None
    except (ArithmeticError, ValueError, np.linalg.LinAlgError):
        return None


def verdict(objective, result, stop_message: str | None = None) -> Verdict:
    """Why a finished run ended where it did, in one paragraph; what to change.

    Checked in this order, on ``result.history`` (the epoch losses and weights):

    - **diverged** (status "diverged"): with plain SGD, the curvature λmax at the start says
      whether lr exceeds the stability limit 2/λmax (2(1 + μ)/λmax with momentum μ), and the
      message suggests lr <= 1/λmax (the fastest rate without zig-zag).
    - **oscillating** (deterministic runs only: full batch or an objective without rows): the
      step reverses direction in at least half of consecutive epoch pairs (and at least 3).
      For plain GD that is lr between 1/λmax and 2/λmax: it converges but zig-zags.
    - **stalled**: the gradient vanished (||g_end|| <= 1e-6 ||g_start||) at a point that is not
      a minimum: a saddle, a maximum, or a flat (all-zero Hessian) plateau.
    - **converged**: the gradient vanished at a minimum (linear and logistic regression are
      convex: every such point is one), or the run stopped on ``tol``.
    - **too slow**: the loss is still falling steadily at the end and, at its fitted rate, the
      decrease still to come exceeds 0.1% of the decrease so far: a larger lr or more epochs.
    - **ok**: none of the above: the loss has leveled off without the gradient vanishing (SGD
      noise with a constant lr, or a stopping monitor).

    Curvature (one Hessian or a few dozen gradients) is computed only to explain a divergence,
    an oscillation or a slow plain-GD run, and a Hessian at the end point only to tell a
    minimum from a saddle on a non-convex objective with few parameters; the rest reads the
    history (gradient norms come from the recorded steps: no extra evaluation).
    """
    h = result.history
    L = np.asarray(h.epoch_loss, dtype=np.float64)
    W = h.w
    opt = result.optimizer
    lr = _lr0(opt)
    mu = float(getattr(opt, "momentum", 0.0)) if _plain_gd(opt) else 0.0
    limit_name = "2/λmax" if mu == 0 else f"2(1 + {mu:g})/λmax"
    epochs = result.epochs
    tail = _facts(result, stop_message)

    if result.status == "diverged":
        lam = _curvature_cheap(objective, W[0]) if _plain_gd(opt) and len(W) else None
        head = f"diverged: {stop_message or 'the loss blew up'} with learning rate {lr:.4g}"
        if lam is not None and lam > 0:
            limit = 2 * (1 + mu) / lam
            if lr > limit:
                why = (f"lr {lr:.4g} exceeds the stability limit {limit_name} ≈ {_fmt(limit)} at the start "
                       f"(λmax = {_fmt(lam)}); try a smaller lr, ≤ {1 / lam:.3g}")
            else:
                why = (f"lr {lr:.4g} is below the stability limit {limit_name} ≈ {_fmt(limit)} at the start "
                       f"(λmax = {_fmt(lam)}), so the blow-up comes from steeper curvature met later "
                       f"or from batch noise; the learning rate is still too high - try {lr / 10:.3g}")
            return Verdict("diverged", f"{head}; {why}. {tail}", lam, 2 / lam)
        return Verdict("diverged", f"{head}; the learning rate is too high - try a smaller one "
                                   f"(e.g. {lr / 10:.3g}). {tail}")

    w_end = np.asarray(result.w, dtype=np.float64)
    if _deterministic(result, objective) and len(W) >= 4:
        rev, pairs = _reversals(W)
        if pairs and rev >= 3 and rev >= 0.5 * pairs:
            lam = _curvature_cheap(objective, W[0]) if _plain_gd(opt) else None
            if lam is not None and lam > 0 and mu == 0 and 1 / lam < lr <= 2 / lam:
                why = (f"lr {lr:.4g} is between 1/λmax ≈ {_fmt(1 / lam)} and 2/λmax ≈ {_fmt(2 / lam)} "
                       f"(λmax = {_fmt(lam)}), so every step overshoots the minimum along the steepest "
                       f"direction: the weights zig-zag across it (reversing in {rev} of {pairs} epochs) "
                       f"while converging by |1 - lr λmax| = {abs(1 - lr * lam):.3g} per step; "
                       f"lr ≤ {1 / lam:.3g} descends without zig-zag")
            else:
                why = (f"the steps reverse direction in {rev} of {pairs} consecutive epochs: the weights "
                       f"zig-zag across a valley instead of running along it; a smaller lr "
                       f"(or less momentum) damps it")
                lam = None
            return Verdict("oscillating", f"oscillating: {why}. {tail}", lam, 2 / lam if lam else None)

    g_end = _gnorm(objective, w_end, h, -1)
    g_start = _gnorm(objective, W[0], h, 0) if len(W) else math.nan
    vanished = g_end <= GTOL * g_start if g_start > 0 else g_end <= 1e-12
    falling, rate, remaining = _trend(L)
    total = float(L[0] - np.nanmin(L)) if len(L) else 0.0
    negligible = remaining <= SLOW_RTOL * max(total, 1e-300)
    if vanished or result.status == "converged" or (falling and negligible):
        kind, lam = "minimum", None
        if not _convex(objective) and _hessian_affordable(objective, _n_params(objective, w_end)):
            try:
                lam = eigenvalues(objective, w_end)
            except (ArithmeticError, ValueError, np.linalg.LinAlgError):
                lam = None
            if lam is not None:
                kind = _kind(lam)
                if kind == "degenerate" and np.max(lam) > max(1e-6 * np.max(np.abs(lam)), 1e-12):
                    kind = "minimum"  # positive semi-definite: flat along some directions, a minimum
        if kind != "minimum":
            where = "a saddle point" if kind == "saddle" else "a local maximum" if kind == "maximum" \
                else "a plateau (flat, degenerate Hessian)"
            eig = ", ".join(_fmt(x) for x in lam)
            grad = ("the gradient vanished" if vanished
                    else "the loss has nearly stopped falling and the gradient is small")
            msg = (f"stalled at {where}: {grad} (norm {g_end:.2g}, from {g_start:.2g} at the start) but the "
                   f"Hessian's eigenvalues there are {eig}, so this is not a minimum: the loss still falls in "
                   f"some direction that the gradient cannot see. A perturbed start or gradient noise "
                   f"(SGD, a mini-batch) escapes. {tail}")
            return Verdict("stalled", msg)
        how = (f"the gradient norm fell from {g_start:.3g} to {g_end:.3g}" if vanished or result.status == "converged"
               else f"the loss is settling (what is left to gain at its pace, ~{remaining:.2g}, is negligible; "
                    f"gradient norm {g_end:.3g}, {g_start:.3g} at the start)")
        best = getattr(objective, "min_value", None)
        at = "a minimum"
        if best is not None and result.loss - best > 1e-3 * max(float(L[0]) - best, 1e-12):
            at = f"a local minimum (the global minimum is {best:.4g})"
        return Verdict("converged", f"converged: {how} at {at}. {tail}")

    if falling:
        lam = _curvature_cheap(objective, W[-1]) if _plain_gd(opt) and _deterministic(result, objective) else None
        if math.isinf(remaining):
            msg = (f"too slow: the loss is still falling after {epochs} epochs ({_fmt(L[-1])} now) and not "
                   f"slowing down: the run is far from a minimum, or the objective is unbounded below; "
                   f"run more epochs (or check the objective). {tail}")
            return Verdict("too_slow", msg)
        more = math.log(1e-3) / math.log(rate) if 0 < rate < 1 else math.inf
        pace = (f"improving by a factor {rate:.3g} less each epoch: about {more:.0f} more epochs at this pace "
                f"to get within 0.1% of where it is heading")
        advice = "use a larger learning rate or more epochs"
        if lam is not None and lam > 0 and lr < 1 / lam:
            advice = (f"the learning rate {lr:.4g} is well below 1/λmax ≈ {1 / lam:.3g} (stable up to "
                      f"2/λmax ≈ {_fmt(2 / lam)}, λmax = {_fmt(lam)}): raise it towards {1 / lam:.3g}, or "
                      f"run more epochs")
        else:
            lam = None
        msg = (f"too slow: the loss is still falling steadily after {epochs} epochs ({_fmt(L[-1])} now), {pace}; "
               f"{advice}. {tail}")
        return Verdict("too_slow", msg, lam, 2 / lam if lam else None)

    if result.status == "stopped":
        return Verdict("ok", tail)
    noise = ("the steps keep hovering around a minimum instead of settling; a decaying learning rate "
             "would settle them") if _deterministic(result, objective) else (
        "gradient noise at a constant learning rate keeps the weights from settling; a decaying schedule or "
        "larger batches would settle them")
    return Verdict("ok", f"leveled off: the loss stopped improving at {_fmt(L[-1])} while the gradient norm is "
                         f"still {g_end:.3g} ({g_start:.3g} at the start): {noise}. {tail}")


def _gnorm(objective, w, history, i) -> float:
    """The gradient norm at the start (i = 0) or the end (i = -1) of the run, without new work where possible.

    The full-data norm recorded at that epoch boundary when a monitor asked for it; otherwise
    the mean batch-gradient norm of the first or last epoch's steps (for full batch, the first
    one is exactly ||∇L(w0)|| and the last one is ||∇L|| one step before the end; with
    mini-batches the mean is an upper estimate that stays large under gradient noise). Only
    when no step was recorded is the gradient evaluated.
    """
    g = np.asarray(history.epoch_grad_norm, dtype=np.float64)
    if len(g) and math.isfinite(g[i]):
        return float(g[i])
    steps, epochs = history.grad_norm, history.step_epoch
    if len(steps):
        sel = epochs == epochs[i]
        vals = steps[sel]
        vals = vals[np.isfinite(vals)]
        if len(vals):
            return float(np.mean(vals))
    with np.errstate(all="ignore"):
        v = objective.grad(w)
    return float(math.sqrt(float(v @ v)))


def _facts(result, stop_message):
    """The plain facts of how the run ended (the sentence the loop gave before verdicts existed)."""
    loss = result.loss
    h = result.history
    best_epoch = int(np.nanargmin(h.epoch_loss)) if len(h) and np.any(np.isfinite(h.epoch_loss)) else 0
    if result.status == "diverged":
        return f"Returning the best weights seen (epoch {best_epoch}, loss {loss:.4g})."
    if result.status == "max_epochs":
        return f"Ran all {result.epochs} epochs; final loss {loss:.4g}."
    if stop_message is None:
        return f"Final loss {loss:.4g}."
    if stop_message.startswith("converged: "):
        stop_message = "Stopped: " + stop_message[len("converged: "):]
    last = h.epoch_loss_list[-1] if len(h) else loss
    if last != loss:
        return f"{stop_message}; returning the best weights seen (epoch {best_epoch}, loss {loss:.4g})."
    return f"{stop_message}; final loss {loss:.4g}."


# ---------------------------------------------------------------------------------------------
# Basins of attraction: where does gradient descent end up from many starts?


@dataclass
class Basins:
    """Where each start ended: ``starts`` and ``ends`` (k, d); ``labels[i]`` indexes ``points``
    (-1: the run diverged); ``points`` lists the known minima (global, then local) followed by any
    new end points (clusters of ends farther than ``radius`` from every known minimum);
    ``counts[j]`` is how many starts reached ``points[j]``; ``known`` is how many of ``points``
    are known minima; ``results`` the runs themselves."""

    starts: np.ndarray
    ends: np.ndarray
    labels: np.ndarray
    points: np.ndarray
    counts: np.ndarray
    known: int
    radius: float
    results: list

    @property
    def reached(self) -> np.ndarray:
        """The points reached by at least one start."""
        return self.points[self.counts > 0]

    @property
    def diverged(self) -> int:
        return int(np.sum(self.labels < 0))

    def rows(self):
        """(point, kind, count) for every point reached, most visited first."""
        order = np.argsort(-self.counts, kind="stable")
        return [(self.points[j], "known minimum" if j < self.known else "other end point", int(self.counts[j]))
                for j in order if self.counts[j] > 0]


def basins(objective, bounds=None, starts=25, optimizer=None, epochs: int | None = None, grid: bool = True,
           seed=0, radius: float | None = None) -> Basins:
    """Run ``minimize`` from many starts and report which minimum each one reached.

    ``starts``: a number N (a grid of about N points over ``bounds``, ceil(N^(1/d)) per axis,
    cell centres so no start sits on a symmetric ridge; or N uniform random points from
    ``seed`` with ``grid=False``), or an explicit (k, d) array. ``bounds`` defaults to the
    landscape's. ``optimizer`` defaults to plain GD at the landscape's ``lrs["sgd"]`` (0.01
    otherwise); ``epochs`` to the landscape's ``steps`` (or 500). An end point within ``radius``
    (default 1e-3 of the bounds' diagonal) of a known minimum counts as reaching it.

    The census shows the greedy nature of gradient descent: on Himmelblau each start falls into
    one of four minima, on Rastrigin into one of many local minima, on the lecture's convex cost
    every start reaches the same w = 2.
    """
    from . import optim
    from .loop import minimize

    if bounds is None:
        bounds = getattr(objective, "bounds", None)
        if bounds is None:
            raise ParameterError("basins needs bounds: a (low, high) pair per parameter.")
    b = np.asarray(bounds, dtype=np.float64)
    if b.ndim != 2 or b.shape[1] != 2 or not np.all(b[:, 0] < b[:, 1]):
        raise ParameterError(f"bounds must be a list of (low, high) pairs with low < high; got {bounds!r}.")
    d = len(b)
    if isinstance(starts, (int, np.integer)) and not isinstance(starts, bool):
        n = check_positive("starts", int(starts), integer=True)
        if grid:
            per = max(1, math.ceil(n ** (1 / d) - 1e-9))
            axes = [lo + (np.arange(per) + 0.5) * (hi - lo) / per for lo, hi in b]
            mesh = np.meshgrid(*axes, indexing="ij")
            S = np.stack([m.ravel() for m in mesh], axis=1)
        else:
            S = b[:, 0] + np.random.default_rng(seed).random((n, d)) * (b[:, 1] - b[:, 0])
    else:
        S = np.atleast_2d(np.asarray(starts, dtype=np.float64))
        if S.shape[1] != d:
            raise ParameterError(f"starts must have {d} columns (one per parameter); got shape {S.shape}.")
    if optimizer is None:
        optimizer = optim.SGD(lr=getattr(objective, "lrs", {}).get("sgd", 0.01))
    epochs = getattr(objective, "steps", 500) if epochs is None else epochs
    radius = 1e-3 * float(np.linalg.norm(b[:, 1] - b[:, 0])) if radius is None else float(radius)

    known = getattr(objective, "known_minima", getattr(objective, "minima", np.zeros((0, d))))
    points = [np.asarray(p, dtype=np.float64) for p in np.asarray(known, dtype=np.float64).reshape(-1, d)]
    n_known = len(points)
    results, ends, labels = [], [], []
    for s in S:
        res = minimize(objective, s, optimizer=optimizer, epochs=epochs, seed=seed)
        results.append(res)
        e = np.asarray(res.w, dtype=np.float64)
        ends.append(e)
        if res.status == "diverged" or not np.all(np.isfinite(e)):
            labels.append(-1)
            continue
        dist = [float(np.linalg.norm(e - p)) for p in points]
        j = int(np.argmin(dist)) if dist else -1
        if j < 0 or dist[j] > radius:
            points.append(e)
            j = len(points) - 1
        labels.append(j)
    labels = np.array(labels, dtype=int)
    P = np.array(points).reshape(-1, d)
    counts = np.bincount(labels[labels >= 0], minlength=len(P)) if len(P) else np.zeros(0, int)
    return Basins(S, np.array(ends).reshape(-1, d), labels, P, counts, n_known, radius, results)

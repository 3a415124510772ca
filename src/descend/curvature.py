r"""Curvature: the Hessian's extreme eigenvalues, critical points, and each optimizer's stability limit.

Nothing here copies the data: for linear and logistic regression the Hessian is
:math:`[X\ 1]^\top \mathrm{diag}(s) [X\ 1] / N` (s = 2 for squared error, p(1 - p) for the
logistic loss), formed a chunk of rows at a time (the unweighted Gram matrix of least squares
is computed once per objective and cached: objectives are immutable), or applied to a vector
as :math:`[X\ 1]^\top (s \odot ([X\ 1] v)) / N` without forming it.

The stability limits are those of the optimizer's own iteration on a quadratic whose Hessian
has eigenvalue λ (plus the optimizer's weight decay wd, which adds wd to every eigenvalue), with
h = lr (λ + wd):

- plain SGD (gradient descent): w ← (1 - h) w, stable iff 0 < h < 2;
- heavy-ball momentum μ < 1 with dampening τ (PyTorch's b ← μ b + (1 - τ) g, w ← w - lr b):
  characteristic polynomial z² - (1 + μ - (1 - τ) h) z + μ, stable iff (1 - τ) h < 2 (1 + μ);
- Nesterov momentum μ < 1 (dampening 0; w ← w - lr (g + μ b)):
  z² - (1 + μ)(1 - h) z + μ (1 - h), stable iff h < 2 (1 + μ) / (1 + 2μ);
- momentum μ >= 1: no rate is stable in every direction;
- Adam, AdamW, NAdam, RMSprop, Adagrad, Adadelta: no such limit. They divide each coordinate's
  step by a running root-mean-square of its gradients, so a step is about lr long whatever the
  curvature; the iteration is not linear in w and λ alone does not decide stability.

(Jury's test for z² + a₁ z + a₀: all roots inside the unit circle iff |a₀| < 1 and 1 ± a₁ + a₀ > 0.)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .errors import ParameterError

__all__ = ["curvature", "stable_lr", "classify", "eigenvalues", "hessian", "hvp", "gram",
           "Limit", "stability_limit", "iteration_radius"]

EXACT_MAX_PARAMS = 2000   # above this, never form the Hessian: Lanczos on H v instead
EXACT_MAX_FLOPS = 2e9     # nor when forming it (n_samples * n_params^2) would cost more than this
FD_MAX_PARAMS = 50        # a finite-difference Hessian (2 n gradients) only for this few parameters


# ---------------------------------------------------------------------------------------------
# The Hessian of linear models without a copy of X.


def _linear(objective):
    """'squared' or 'logistic' for single-output linear and logistic regression (whose Hessian is
    known in closed form), else None."""
    from .objectives import LinearRegression, LogisticRegression

    if getattr(objective, "n_outputs", 1) != 1 or getattr(objective, "streamed", False):
        return None  # (a streamed objective's rows are on disk: its own hessian() reads them in one pass)
    if isinstance(objective, LinearRegression):
        return "squared"
    if isinstance(objective, LogisticRegression):
        return "logistic"
    return None


def gram(objective) -> np.ndarray:
    """[X 1]^T [X 1] of a linear model (without the bias column when ``bias=False``): the
    objective's own ``gram()``, computed once per (immutable) objective without copying X."""
    return objective.gram()


def _penalty_diag(objective, n):
    """2 l2 on the coefficients (never the bias) for objectives with an L2 penalty ``l2``."""
    l2 = float(getattr(objective, "l2", 0.0) or 0.0)
    if not l2:
        return None
    mask = np.ones(n, dtype=bool)
    if getattr(objective, "bias", False):
        mask[-1] = False
    return 2.0 * l2 * mask


def _logistic_weights(objective, w):
    from .objectives import sigmoid

    p = sigmoid(objective.decision(np.asarray(w, dtype=np.float64)))
    return p * (1.0 - p)


def hessian(objective, w) -> np.ndarray:
    """The Hessian at ``w`` as a dense matrix: for linear and logistic regression from the
    (weighted) Gram matrix, built without copying X (cached for least squares, whose Hessian
    2/N [X 1]^T [X 1] does not depend on w); otherwise ``objective.hessian(w)``."""
    kind = _linear(objective)
    if kind is None:
        n = int(objective.n_params if objective.n_params is not None else np.size(w))
        return np.asarray(objective.hessian(w), dtype=np.float64).reshape(n, n)
    if kind == "squared":
        H = 2.0 * gram(objective) / objective.n_samples
    else:
        H = objective.gram(_logistic_weights(objective, w)) / objective.n_samples
    pen = _penalty_diag(objective, len(H))
    return H if pen is None else H + np.diag(pen)


def hvp(objective, w):
    """The operator v -> H(w) v.

    Linear and logistic regression: [X 1]^T (s ⊙ ([X 1] v)) / N, two matrix-vector products
    with X and no copy of it. Otherwise ``objective.hvp(w, v)`` when the objective has one, else
    central differences of the gradient, (∇L(w + h v) - ∇L(w - h v)) / 2h with
    h = eps^(1/3) max(1, ||w||) (exact up to rounding on quadratics, O(h²) otherwise).
    """
    w = np.asarray(w, dtype=np.float64)
    kind = _linear(objective)
    if kind is not None:
        X, bias, d, N = objective.X, objective.bias, objective.n_features, objective.n_samples
        s = 2.0 if kind == "squared" else _logistic_weights(objective, w)
        pen = _penalty_diag(objective, objective.n_params)

        def hv(v):
            u = X @ v[:d] + (v[d] if bias else 0.0)
            t = s * u
            out = np.empty(d + bias)
            out[:d] = X.T @ t / N
            if bias:
                out[d] = np.sum(t) / N
            return out if pen is None else out + pen * v

        return hv
    own = getattr(objective, "hvp", None)
    if callable(own):
        return lambda v: np.asarray(own(w, v), dtype=np.float64)
    h = np.finfo(np.float64).eps ** (1 / 3) * max(1.0, float(np.linalg.norm(w)))

    def fd(v):
        return (objective.grad(w + h * v) - objective.grad(w - h * v)) / (2 * h)

    return fd


# ---------------------------------------------------------------------------------------------
# Extreme eigenvalues.


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
    if _linear(objective) == "squared" and "_gram" in vars(objective):
        return n <= EXACT_MAX_PARAMS  # the Gram matrix is already there: no pass over the data
    if getattr(objective, "streamed", False):  # rows on disk: the exact Hessian is one pass, Lanczos two per step
        return n <= EXACT_MAX_PARAMS
    return n <= EXACT_MAX_PARAMS and (objective.n_samples or 1) * n * n <= EXACT_MAX_FLOPS


def _start_w(objective, w):
    if w is None:
        if objective.n_params is None:
            raise ParameterError("w is needed: this objective does not know its number of parameters.")
        return np.zeros(objective.n_params)
    return objective.check_w(w, "w")


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
        return np.linalg.eigvalsh(hessian(objective, w))
    return np.array(_lanczos(hvp(objective, w), n, iters=iters, rtol=rtol, seed=seed))


def curvature(objective, w=None, iters: int = 100, rtol: float = 1e-6, seed=0) -> float:
    r"""The largest eigenvalue λmax of the Hessian at ``w`` (default: zeros; constant for linear regression).

    - Exact, by ``numpy.linalg.eigvalsh``, when the objective has an exact Hessian (linear
      regression: 2/N [X 1]ᵀ[X 1], formed without copying X and cached; logistic regression;
      the landscapes; a Function given ``hessian=``) and forming it is cheap: at most 2000
      parameters and n_samples · n_params² <= 2e9 flops.
    - Otherwise iteratively (Lanczos) from Hessian-vector products (:func:`hvp`: exact and
      copy-free for linear and logistic regression, central differences of the gradient
      otherwise): at most ``iters`` products, stopping when the estimate changes by at most
      ``rtol`` (relative) from one iteration to the next. The largest *algebraic* eigenvalue
      comes out even when a negative one dominates in size. Expect ~``rtol`` relative accuracy.

    Plain gradient descent on a quadratic with this curvature diverges above lr = 2 / λmax
    (see :func:`stable_lr`); the lecture's cost 7.5 (w - 2)² has λmax = 15.
    """
    return float(eigenvalues(objective, w, iters=iters, rtol=rtol, seed=seed)[-1])


def stable_lr(objective, w=None, **kwargs) -> float:
    """2 / λmax(w): the largest rate at which plain gradient descent is stable *at w*.

    On a quadratic (linear regression) the Hessian is the same everywhere, so plain full-batch
    gradient descent diverges above this rate from any start. Elsewhere it is a local limit:
    logistic regression's curvature falls as the fit improves (p(1 - p) shrinks), so a run
    started above 2/λmax(w0) can still descend. Infinite when the curvature is not positive.
    Keyword arguments go to :func:`curvature`.
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
    return _kind(eigenvalues(objective, w), tol, atol)


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
# Each optimizer's stability limit on a quadratic.


class Limit(NamedTuple):
    """An optimizer's stability limit at curvature ``lam``: ``lr`` is the largest stable learning
    rate (inf: none; 0: no rate is stable); ``formula`` says how it is computed, ``values`` gives
    the hyper-parameters it uses (momentum μ, dampening τ)."""

    lr: float
    formula: str
    lam: float
    weight_decay: float
    values: str = ""


def _sgd_params(optimizer):
    return (float(optimizer.momentum), float(optimizer.dampening), bool(optimizer.nesterov),
            float(optimizer.weight_decay))


def stability_limit(optimizer, lam: float) -> Limit | None:
    """The largest learning rate at which ``optimizer`` is stable on a quadratic with top
    Hessian eigenvalue ``lam`` (the module docstring derives each); None for the adaptive
    optimizers (Adam, RMSprop, ...), which have no such limit."""
    if getattr(optimizer, "name", "") != "sgd":
        return None
    mu, tau, nesterov, wd = _sgd_params(optimizer)
    lam_eff = float(lam) + wd
    curv = "(λmax + wd)" if wd else "λmax"
    if lam_eff <= 0:
        return Limit(math.inf, f"none: {curv} <= 0", lam, wd)
    if mu == 0:
        return Limit(2.0 / lam_eff, f"2/{curv}", lam, wd)
    if mu >= 1:
        return Limit(0.0, f"none: momentum {mu:g} >= 1 is unstable at any rate", lam, wd)
    if nesterov:
        return Limit(2.0 * (1 + mu) / ((1 + 2 * mu) * lam_eff), f"2(1 + μ)/((1 + 2μ) {curv})", lam, wd, f"μ = {mu:g}")
    if tau >= 1:
        return Limit(math.inf, "none: dampening 1 stops the momentum buffer from following the gradient", lam, wd)
    if tau:
        return Limit(2.0 * (1 + mu) / ((1 - tau) * lam_eff), f"2(1 + μ)/((1 - τ) {curv})", lam, wd,
                     f"μ = {mu:g}, τ = {tau:g}")
    return Limit(2.0 * (1 + mu) / lam_eff, f"2(1 + μ)/{curv}", lam, wd, f"μ = {mu:g}")


def iteration_radius(optimizer, lr: float, lam: float) -> float:
    """The factor by which the optimizer's linear iteration on eigenvalue ``lam`` shrinks (< 1)
    or grows (> 1) the distance to the minimum per step, in the long run: the spectral radius
    of the iteration matrix (|1 - lr (λ + wd)| for plain SGD). NaN for adaptive optimizers."""
    if getattr(optimizer, "name", "") != "sgd":
        return math.nan
    mu, tau, nesterov, wd = _sgd_params(optimizer)
    h = lr * (lam + wd)
    if mu == 0:
        return abs(1.0 - h)
    if nesterov:  # state (w, lr b): z^2 - (1 + mu)(1 - h) z + mu (1 - h)
        M = np.array([[1 - h * (1 + mu), -mu * mu], [h, mu]])
    else:
        hd = (1 - tau) * h
        M = np.array([[1 - hd, -mu], [hd, mu]])
    return float(np.max(np.abs(np.linalg.eigvals(M))))

"""Diagnostics: smoothing of loss curves, curvature, the stable learning rate, critical points,
the verdict on a finished run, and the census of basins of attraction.

Curvature and stability limits live in :mod:`descend.curvature`, the verdict's rule table in
:mod:`descend.verdicts` (the loop imports it; this module imports the loop, for ``basins``,
only inside that function); their public names are re-exported here."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .curvature import classify, curvature, eigenvalues, iteration_radius, stability_limit, stable_lr
from .errors import ParameterError, check_positive
from .verdicts import RULES, VERDICTS, Verdict, judge as verdict

__all__ = ["smooth", "curvature", "stable_lr", "classify", "eigenvalues", "stability_limit", "iteration_radius",
           "verdict", "Verdict", "VERDICTS", "RULES", "basins", "Basins"]


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

"""Search without gradients: brute force over a grid, and divide and conquer.

``grid`` evaluates the loss at every point of a regular grid and takes the best.
``refine`` starts from a coarse grid, then lays a finer grid over the cells around the best
point, ``rounds`` times; it needs far fewer evaluations than one grid at its final
resolution but, on a non-convex cost, it can zoom into the wrong valley and miss the
global minimum (the lecture's warning).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import ParameterError, check_positive

__all__ = ["SearchResult", "grid", "refine"]


@dataclass
class SearchResult:
    """The best point ``w`` and its ``loss``; every evaluated point and loss, in order; the grid axes
    of each round (``axes[r]`` is a list of 1-D arrays, one per weight)."""

    w: np.ndarray
    loss: float
    points: np.ndarray
    losses: np.ndarray
    axes: list
    rounds: int = 1
    objective: object = field(default=None, repr=False)

    @property
    def evaluations(self) -> int:
        return len(self.losses)


def _check_bounds(bounds, n_params):
    try:
        b = np.asarray(bounds, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"bounds must be a list of (low, high) pairs, one per weight; got {bounds!r}.") from None
    if b.ndim != 2 or b.shape[1] != 2:
        raise ParameterError(f"bounds must be a list of (low, high) pairs, one per weight; got {bounds!r}.")
    if n_params is not None and len(b) != n_params:
        raise ParameterError(f"bounds has {len(b)} pairs but the objective has {n_params} parameters.")
    if not np.all(np.isfinite(b)) or np.any(b[:, 0] >= b[:, 1]):
        raise ParameterError(f"every bound must be finite with low < high; got {bounds!r}.")
    return b


def _evaluate(objective, points):
    with np.errstate(all="ignore"):
        return np.asarray(objective.loss_many(points), dtype=np.float64)


MAX_POINTS = 10_000_000  # one grid at most: num**d points of d weights (memory and time grow as num**d)


def _check_size(num, d, what="a grid"):
    if float(num) ** d > MAX_POINTS:
        raise ParameterError(f"{what} of {num} points per weight over {d} weights is {float(num) ** d:.3g} points, "
                             f"more than {MAX_POINTS:,}; use fewer points per weight, or gradient descent.")


def _grid_points(axes):
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


def grid(objective, bounds=((0.0, 4.0),), num: int = 41) -> SearchResult:
    """Brute force: the loss at every point of a ``num``-per-weight grid over ``bounds``; the best wins."""
    b = _check_bounds(bounds, objective.n_params)
    num = check_positive("num", num, integer=True)
    if num < 2:
        raise ParameterError(f"num must be at least 2 points per weight; got {num}.")
    _check_size(num, len(b))
    axes = [np.linspace(lo, hi, num) for lo, hi in b]
    points = _grid_points(axes)
    losses = _evaluate(objective, points)
    best = int(np.nanargmin(np.where(np.isfinite(losses), losses, np.inf)))
    return SearchResult(points[best].copy(), float(losses[best]), points, losses, [axes], 1, objective)


def refine(objective, bounds=((-10.0, 10.0), (-10.0, 10.0)), num: int = 11, rounds: int = 6) -> SearchResult:
    """Divide and conquer: a ``num``-per-weight grid, then a new grid over the cells next to the best
    point (one grid spacing either side, clipped to the previous box), ``rounds`` times in all.

    Each round shrinks the box by a factor (num - 1) / 2 per weight; total evaluations are
    rounds * num**d, against ((num - 1) * ((num - 1) / 2)**(rounds - 1) + 1)**d for one grid
    at the final resolution.
    """
    b = _check_bounds(bounds, objective.n_params)
    num = check_positive("num", num, integer=True)
    rounds = check_positive("rounds", rounds, integer=True)
    if num < 3:
        raise ParameterError(f"refine needs num >= 3 points per weight to shrink the box; got {num}.")
    _check_size(num, len(b), "each round's grid")
    all_points, all_losses, all_axes = [], [], []
    box = b.copy()
    best_w, best_loss = None, np.inf
    for _ in range(rounds):
        axes = [np.linspace(lo, hi, num) for lo, hi in box]
        points = _grid_points(axes)
        losses = _evaluate(objective, points)
        all_points.append(points)
        all_losses.append(losses)
        all_axes.append(axes)
        finite = np.where(np.isfinite(losses), losses, np.inf)
        i = int(np.argmin(finite))
        if finite[i] < best_loss:
            best_w, best_loss = points[i].copy(), float(finite[i])
        spacing = (box[:, 1] - box[:, 0]) / (num - 1)
        centre = points[i]
        box = np.stack([np.maximum(centre - spacing, box[:, 0]), np.minimum(centre + spacing, box[:, 1])], axis=1)
    return SearchResult(best_w, best_loss, np.concatenate(all_points), np.concatenate(all_losses), all_axes, rounds,
                        objective)

"""Diagnostics: smoothing of loss curves (and, later, curvature and verdicts)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["smooth"]


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

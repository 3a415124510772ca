"""The compiled per-chunk pass of the Dask engine (numba; imported on the workers).

``loss_grad_sums`` is the full-data pass of :func:`descend.kernels._compiled.full_loss_grad`
restricted to one chunk and run serially (a Dask worker thread is one core): the same row
arithmetic (``decision``, ``pointwise``, ``accumulate``, inlined), the same blocks of CHUNK_ROWS
rows with their own partial sums added in block order. It returns sums, not means: the chunks'
sums are added up in a tree on the cluster and divided by the row count on the client.
"""

from __future__ import annotations

import numba
import numpy as np

from ..kernels._compiled import CHUNK_ROWS, FASTMATH, accumulate_inline, decision_inline, pointwise


@numba.njit(cache=True, error_model="numpy", nogil=True, fastmath=FASTMATH)
def loss_grad_sums(model, X, y, bias, w, out):
    """out[:p] = sum over the rows of X of d loss / d w, out[p] = sum of the losses (p = out.size - 1)."""
    n, d = X.shape
    p = out.size - 1
    acc = np.zeros(p + 1)
    for k in range(p + 1):
        out[k] = 0.0
    for start in range(0, n, CHUNK_ROWS):
        for k in range(p + 1):
            acc[k] = 0.0
        for j in range(start, min(start + CHUNK_ROWS, n)):
            loss_j, dz = pointwise(model, decision_inline(X, j, w, d, bias), y[j])
            acc[p] += loss_j
            accumulate_inline(acc, dz, X, j, d, bias)
        for k in range(p + 1):
            out[k] += acc[k]

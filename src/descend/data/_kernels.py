"""Compiled helpers of the streaming engine: chunks as pyarrow hands them out, one column per array.

Both functions take the features as a tuple of 1-D columns (zero-copy views of pyarrow's
buffers), so a chunk is never copied to be read:

- ``columns_loss_grad``: the full-data pass of a chunk, the same arithmetic as
  :func:`descend.kernels._compiled.full_loss_grad` (the objective's own compiled ``pointwise``
  loss; sums in float64; blocks of rows added up in block order, so the result does not depend on
  the number of threads) over columns instead of rows;
- ``columns_to_rows``: the chunk written row-major into a buffer (for the per-step kernels, which
  read a row at a time), checking for non-finite cells on the way so the check costs nothing.

Both run on one thread: the streaming engine reads the next chunk in a background thread (pyarrow
decodes with the GIL released) while these work, so the two cores are already busy; measured
here, numba's parallel regions on top of that cost 5-10x more CPU time than they save.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ..kernels._compiled import FASTMATH, pointwise

BLOCK = 512  # rows per block: a block of z and of every column stays in cache between the two sweeps
TILE = 64    # rows per tile of the transposition: the tile's rows stay in L1 while the columns are written


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def columns_loss_grad(model, cols, y, bias, w, out, want_grad):
    """out[p] += sum_i L(z_i, y_i) and, if ``want_grad``, out[:p] += sum_i dL/dz_i [x_i, 1] with
    z_i = x_i . w (+ w[d]); x_i is row i of the columns ``cols``."""
    m = y.size
    d = len(cols)
    p = out.size - 1
    n_blocks = (m + BLOCK - 1) // BLOCK
    partial = np.zeros((n_blocks, p + 1))
    for b in range(n_blocks):
        lo = b * BLOCK
        hi = min(lo + BLOCK, m)
        z = np.zeros(hi - lo)
        for k in range(d):
            c = cols[k]
            wk = w[k]
            for r in range(lo, hi):
                z[r - lo] += c[r] * wk
        acc = partial[b]
        for r in range(lo, hi):
            zr = z[r - lo] + w[d] if bias else z[r - lo]
            loss_r, dz = pointwise(model, zr, y[r])
            acc[p] += loss_r
            z[r - lo] = dz
        if want_grad:
            for k in range(d):
                c = cols[k]
                s = 0.0
                for r in range(lo, hi):
                    s += c[r] * z[r - lo]
                acc[k] += s
            if bias:
                s = 0.0
                for r in range(hi - lo):
                    s += z[r]
                acc[d] += s
    for b in range(n_blocks):
        for k in range(p + 1):
            out[k] += partial[b, k]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def columns_to_rows(cols, y, X, Y, pos):
    """X[pos[i], k] = cols[k][i], Y[pos[i]] = y[i]: the chunk's rows written where the epoch visits
    them (a shuffle buffer is filled already in its shuffled order, so the steps then read it
    front to back). Returns True when every value copied is finite (the sum of v * 0 is 0 exactly
    when no v is infinite or NaN)."""
    m = y.size
    d = len(cols)
    acc = 0.0
    for lo in range(0, m, TILE):
        hi = min(lo + TILE, m)
        for k in range(d):
            c = cols[k]
            for r in range(lo, hi):
                v = c[r]
                X[pos[r], k] = v
                acc += v * 0.0
    for r in range(m):
        v = y[r]
        Y[pos[r]] = v
        acc += v * 0.0
    return acc == 0.0


def _tie_these_kernels():
    """``columns_loss_grad`` also compiles the objectives' ``pointwise`` through the kernels: their
    files count in its cache stamps too (:func:`descend.kernels._compiled.tie_cache_to_sources`)."""
    import sys

    from .. import objectives
    from ..kernels import _compiled

    _compiled.tie_cache_to_sources((columns_loss_grad, columns_to_rows),
                                   (objectives, _compiled, sys.modules[__name__]))


_tie_these_kernels()

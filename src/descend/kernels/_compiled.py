"""The numba-compiled side of the kernels: no validation, no choices, contiguous arrays in.

Nothing here re-states the mathematics. The update rules are the functions of
:mod:`descend.optim` compiled as they are (``lanes(w)`` becomes ``range(w.size)``, so each
rule updates one element at a time with no temporary arrays), and the per-row loss is the
objectives' own ``pointwise(z, y)``. What the kernels add is the data movement: the
decision ``z = x.w + b`` of a row and the accumulation of ``dL/dz * x`` into the gradient.

Floating point: the row arithmetic (the dot product x.w, the accumulation dz*x into the
gradient, its norm) and the parallel full-data pass are compiled with the restricted fast-math
flags ``reassoc``, ``contract`` and ``nsz`` (LLVM may vectorise and fuse them; no
``nnan``/``ninf``, so the non-finite checks stay valid). The per-step kernel itself and the
update rules inlined into it are compiled strictly (IEEE), so the optimizer arithmetic is the
NumPy path's; rounding differences against the plain path come only from the order of the
sums (relative ~1e-16 each; rtol 1e-10 over an epoch in the tests).

The epoch's shuffled order is NumPy's own permutation recomputed here (``permutation``):
NumPy's PCG64 (the 128-bit LCG step is an LLVM i128 multiply, ``lcg128``) and its Fisher-Yates
loop, bit for bit, so both paths visit the same rows; the tests compare it with NumPy's.

The per-step code is compiled without numba's reference counting (``_nrt=False``): nothing
in it allocates, and the atomic reference-count updates around every call would otherwise act
as memory barriers and serialise the row loads of a shuffled epoch.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange, types
from numba.extending import overload, register_jitable

from .. import optim
from ..objectives import LinearRegression, LogisticRegression, sigmoid

FASTMATH = {"reassoc", "contract", "nsz"}
PREFETCH_ROWS = 8  # how many rows ahead the per-step kernels prefetch (shuffled orders miss the cache)
CHUNK_ROWS = 8192  # rows per parallel chunk of the full-data pass; fixed, so sums do not depend on threads


# --- the shared Python functions, taught to numba --------------------------------------------

@overload(optim.lanes, inline="always")
def _lanes_compiled(w):
    return lambda w: range(w.size)


register_jitable(optim._lerp)
register_jitable(sigmoid)

_strict = dict(cache=True, error_model="numpy", nogil=True, _nrt=False)  # no allocation, no refcounts
_inline = dict(_strict, inline="always")  # numba-level inlining: only into strict callers
_fast = dict(cache=True, error_model="numpy", nogil=True, fastmath=FASTMATH, _nrt=False)
_fast_inline = dict(_fast, inline="always")  # inlined into the (fast-math) kernels below

RULES = (optim.sgd_rule, optim.adam_rule, optim.nadam_rule, optim.rmsprop_rule, optim.adagrad_rule,
         optim.adadelta_rule)
MODELS = (LinearRegression, LogisticRegression)

_sgd = numba.njit(**_inline)(optim.sgd_rule)
_adam = numba.njit(**_inline)(optim.adam_rule)
_nadam = numba.njit(**_inline)(optim.nadam_rule)
_rmsprop = numba.njit(**_inline)(optim.rmsprop_rule)
_adagrad = numba.njit(**_inline)(optim.adagrad_rule)
_adadelta = numba.njit(**_inline)(optim.adadelta_rule)
_squared_error = numba.njit(**_inline)(LinearRegression.pointwise)
_cross_entropy = numba.njit(**_inline)(LogisticRegression.pointwise)


@numba.njit(**_inline)
def apply_rule(rule, w, g, lr, t, state, hp):
    """One optimizer step: the rule of index ``rule`` in RULES (t is passed as a float so that
    b**t is the C library's pow, as in Python)."""
    if rule == 0:
        _sgd(w, g, lr, t, state, hp)
    elif rule == 1:
        _adam(w, g, lr, t, state, hp)
    elif rule == 2:
        _nadam(w, g, lr, t, state, hp)
    elif rule == 3:
        _rmsprop(w, g, lr, t, state, hp)
    elif rule == 4:
        _adagrad(w, g, lr, t, state, hp)
    else:
        _adadelta(w, g, lr, t, state, hp)


@numba.njit(**_inline)
def pointwise(model, z, y):
    """(loss, dloss/dz) of one row for the model of index ``model`` in MODELS."""
    if model == 0:
        return _squared_error(z, y)
    return _cross_entropy(z, y)


# --- row arithmetic (fast-math: these are sums whose order we do not promise) -----------------

@numba.njit(**_fast)
def decision(X, j, w, d, bias):
    """z = X[j] . w[:d] (+ w[d]), accumulated in float64 whatever the dtype of X."""
    z = 0.0
    for k in range(d):
        z += X[j, k] * w[k]
    if bias:
        z += w[d]
    return z


@numba.njit(**_fast)
def decision_and_sqnorm(X, j, w, d, bias):
    """(z, ||[X[j], 1]||^2) in one pass over the row: for a one-row batch the gradient is
    dz * [X[j], 1], so its norm is |dz| * ||[X[j], 1]|| (only the rounding differs from summing g*g)."""
    z = 0.0
    xx = 0.0
    for k in range(d):
        xk = X[j, k]
        z += xk * w[k]
        xx += xk * xk
    if bias:
        z += w[d]
        xx += 1.0
    return z, xx


@numba.njit(**_fast)
def accumulate(g, dz, X, j, d, bias):
    """g += dz * [X[j], 1]."""
    for k in range(d):
        g[k] += dz * X[j, k]
    if bias:
        g[d] += dz


@numba.njit(**_fast)
def assign(g, dz, X, j, d, bias):
    """g = dz * [X[j], 1]: the first row of a batch (0 + a == a, and writing g without reading it
    first avoids a store-to-load stall on the critical path of per-sample SGD)."""
    for k in range(d):
        g[k] = dz * X[j, k]
    if bias:
        g[d] = dz


@numba.njit(**_fast)
def norm(g):
    s = 0.0
    for k in range(g.size):
        s += g[k] * g[k]
    return math.sqrt(s)


# the same two functions inlined into the (fast-math, parallel) full-data pass
decision_inline = numba.njit(**_fast_inline)(decision.py_func) if hasattr(decision, "py_func") else decision
accumulate_inline = (numba.njit(**_fast_inline)(accumulate.py_func) if hasattr(accumulate, "py_func")
                     else accumulate)


if numba.config.DISABLE_JIT:
    def prefetch_row(X, j):
        """No-op when numba runs as plain Python."""
else:
    from llvmlite import ir
    from numba.core import cgutils
    from numba.extending import intrinsic

    @intrinsic
    def prefetch_row(typingctx, X, j):
        """Software prefetch (llvm.prefetch, read, keep in all levels) of every cache line of row j of
        a 2-D X, or of element j of a 1-D X."""

        def codegen(context, builder, sig, args):
            aryty = sig.args[0]
            ary = context.make_array(aryty)(context, builder, args[0])
            shape = cgutils.unpack_tuple(builder, ary.shape)
            strides = cgutils.unpack_tuple(builder, ary.strides)
            zero = context.get_constant(types.intp, 0)
            index = [args[1], zero] if aryty.ndim == 2 else [args[1]]
            ptr = cgutils.get_item_pointer2(context, builder, ary.data, shape, strides, aryty.layout, index)
            i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
            fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
            fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
            base = builder.bitcast(ptr, i8p)
            itemsize = context.get_constant(types.intp, aryty.dtype.bitwidth // 8)
            row_bytes = builder.mul(shape[1], itemsize) if aryty.ndim == 2 else itemsize
            step = context.get_constant(types.intp, 64)
            with cgutils.for_range_slice(builder, zero, row_bytes, step) as (offset, _):
                builder.call(fn, [builder.gep(base, [offset]), i32(0), i32(3), i32(1)])
            return context.get_dummy_value()

        return types.void(X, j), codegen


# --- the kernels ------------------------------------------------------------------------------

@numba.njit(**_strict)
def run_steps(model, rule, X, y, bias, w, state, hp, t0, order, batch_size, first, last, lrs,
              out_loss, out_gnorm, out_lr, progress, g):
    """Steps ``first``..``last - 1`` of an epoch; batch s is order[s*B : (s+1)*B].

    Per step: the batch loss and gradient (mean over its rows), then the non-finite check
    (return False before updating), then the optimizer rule; the step's loss, gradient norm
    and learning rate go to out_*[s], and progress[0] = s + 1.
    """
    n = order.size
    d = X.shape[1]
    if batch_size == 1:  # per-sample SGD: the same steps, without the batch bookkeeping
        for s in range(first, last):
            if s + PREFETCH_ROWS < n:  # the rows (and targets) of a shuffled order miss the cache
                prefetch_row(X, order[s + PREFETCH_ROWS])
                prefetch_row(y, order[s + PREFETCH_ROWS])
            j = order[s]
            z, xx = decision_and_sqnorm(X, j, w, d, bias)
            loss, dz = pointwise(model, z, y[j])
            assign(g, dz, X, j, d, bias)
            gnorm = math.sqrt(dz * dz * xx)  # ||dz [x, 1]||, squared first: overflows where g.g would
            out_loss[s] = loss
            out_gnorm[s] = gnorm
            if not (math.isfinite(loss) and math.isfinite(gnorm)):
                progress[0] = s
                return False
            lr = lrs[s]
            apply_rule(rule, w, g, lr, float(t0 + s + 1), state, hp)
            out_lr[s] = lr
        progress[0] = last  # Ctrl-C is only seen between calls, so once per call is enough
        return True
    for s in range(first, last):
        lo = s * batch_size
        hi = min(lo + batch_size, n)
        loss = 0.0
        for r in range(lo, hi):
            if r + PREFETCH_ROWS < n:  # the rows (and targets) of a shuffled order miss the cache
                prefetch_row(X, order[r + PREFETCH_ROWS])
                prefetch_row(y, order[r + PREFETCH_ROWS])
            j = order[r]
            loss_j, dz = pointwise(model, decision(X, j, w, d, bias), y[j])
            loss += loss_j
            if r == lo:
                assign(g, dz, X, j, d, bias)
            else:
                accumulate(g, dz, X, j, d, bias)
        m = hi - lo
        if m > 1:  # the mean over the batch (x / 1 == x: nothing to do for one row)
            loss /= m
            for k in range(g.size):
                g[k] /= m
        gnorm = norm(g)
        out_loss[s] = loss
        out_gnorm[s] = gnorm
        if not (math.isfinite(loss) and math.isfinite(gnorm)):
            return False
        lr = lrs[s]
        apply_rule(rule, w, g, lr, float(t0 + s + 1), state, hp)
        out_lr[s] = lr
        progress[0] = s + 1
    return True


@numba.njit(parallel=True, cache=True, error_model="numpy", nogil=True, fastmath=FASTMATH)
def full_loss_grad(model, X, y, bias, w, g, want_grad):
    """The full-data mean loss (returned) and, if ``want_grad``, its gradient (into g), in one
    pass over X: chunks of CHUNK_ROWS rows in parallel, each with its own partial sums, added
    up in chunk order (so the result does not depend on the number of threads)."""
    n, d = X.shape
    p = g.size
    n_chunks = (n + CHUNK_ROWS - 1) // CHUNK_ROWS
    partial = np.zeros((n_chunks, p + 1))
    for c in prange(n_chunks):
        acc = partial[c]
        for j in range(c * CHUNK_ROWS, min((c + 1) * CHUNK_ROWS, n)):
            loss_j, dz = pointwise(model, decision_inline(X, j, w, d, bias), y[j])
            acc[p] += loss_j
            if want_grad:
                accumulate_inline(acc, dz, X, j, d, bias)
    loss = 0.0
    g[:] = 0.0
    for c in range(n_chunks):
        loss += partial[c, p]
        for k in range(p):
            g[k] += partial[c, k]
    for k in range(p):
        g[k] /= n
    return loss / n


# --- the epoch's row order: NumPy's own permutation, compiled ---------------------------------

PCG64_MULTIPLIER = 0x2360ED051FC65DA44385DF649FCCF645  # NumPy's PCG64 (128-bit LCG, XSL-RR output)

if numba.config.DISABLE_JIT:
    def lcg128(hi, lo, inc_hi, inc_lo):
        """One step of the 128-bit LCG on (hi, lo) halves (plain Python when numba is disabled)."""
        s = ((int(hi) << 64 | int(lo)) * PCG64_MULTIPLIER + (int(inc_hi) << 64 | int(inc_lo))) % (1 << 128)
        return np.uint64(s >> 64), np.uint64(s & ((1 << 64) - 1))
else:
    @intrinsic
    def lcg128(typingctx, hi, lo, inc_hi, inc_lo):
        """One step of the 128-bit LCG: (hi:lo) * PCG64_MULTIPLIER + (inc_hi:inc_lo) mod 2**128."""

        def codegen(context, builder, sig, args):
            i64, i128 = ir.IntType(64), ir.IntType(128)

            def join(h, l):
                return builder.or_(builder.shl(builder.zext(h, i128), i128(64)), builder.zext(l, i128))

            s = builder.add(builder.mul(join(args[0], args[1]), i128(PCG64_MULTIPLIER)), join(args[2], args[3]))
            parts = [builder.trunc(builder.lshr(s, i128(64)), i64), builder.trunc(s, i64)]
            return context.make_tuple(builder, sig.return_type, parts)

        u64 = types.uint64
        return types.UniTuple(u64, 2)(u64, u64, u64, u64), codegen


@numba.njit(**_inline)
def pcg64_next(hi, lo, inc_hi, inc_lo):
    """NumPy's pcg64 next64: advance the state, then output rotr(hi ^ lo, hi >> 58)."""
    hi, lo = lcg128(hi, lo, inc_hi, inc_lo)
    x = hi ^ lo
    rot = hi >> np.uint64(58)
    return hi, lo, (x >> rot) | (x << ((np.uint64(64) - rot) & np.uint64(63)))


@numba.njit(**_strict)
def permutation(out, hi, lo, inc_hi, inc_lo):
    """out = np.random.Generator(PCG64 with state (hi:lo, inc_hi:inc_lo)).permutation(out.size),
    bit for bit: arange, then NumPy's Fisher-Yates (``_shuffle_raw``) drawing each j in [0, i]
    with ``random_interval`` (mask rejection; 32-bit draws, two per 64-bit output, while i fits
    32 bits). The same order as the plain path's, about 1.5x faster (the generator is inlined)."""
    n = out.size
    for i in range(n):
        out[i] = i
    has32 = False
    spare = np.uint64(0)
    for i in range(n - 1, 0, -1):
        top = np.uint64(i)
        mask = top
        mask |= mask >> np.uint64(1)
        mask |= mask >> np.uint64(2)
        mask |= mask >> np.uint64(4)
        mask |= mask >> np.uint64(8)
        mask |= mask >> np.uint64(16)
        mask |= mask >> np.uint64(32)
        while True:
            if top <= np.uint64(0xFFFFFFFF):
                if has32:
                    has32 = False
                    v = spare
                else:
                    hi, lo, r = pcg64_next(hi, lo, inc_hi, inc_lo)
                    spare = r >> np.uint64(32)
                    has32 = True
                    v = r & np.uint64(0xFFFFFFFF)
            else:
                hi, lo, v = pcg64_next(hi, lo, inc_hi, inc_lo)
            v &= mask
            if v <= top:
                break
        j = np.int64(v)
        t = out[i]
        out[i] = out[j]
        out[j] = t


@numba.njit(parallel=True, cache=True, nogil=True, fastmath=FASTMATH)
def streaming_sum(X):
    """Sum of every element of X in one parallel pass (the benchmarks' memory-read floor)."""
    n = X.shape[0]
    n_chunks = (n + CHUNK_ROWS - 1) // CHUNK_ROWS
    partial = np.zeros(n_chunks)
    for c in prange(n_chunks):
        s = 0.0
        for j in range(c * CHUNK_ROWS, min((c + 1) * CHUNK_ROWS, n)):
            for k in range(X.shape[1]):
                s += X[j, k]
        partial[c] = s
    return partial.sum()


def _tie_cache_to_sources():
    """numba invalidates a cached function only when its own file changes; these kernels also
    compile code from optim.py and objectives.py (and this file), so fold all their contents
    into every cache entry's source stamp. (Uses numba internals; without them, no-op.)"""
    import hashlib
    import inspect
    from pathlib import Path
    import sys

    from .. import objectives

    digest = hashlib.sha256()
    for module in (optim, objectives, sys.modules[__name__]):
        digest.update(Path(inspect.getfile(module)).read_bytes())
    stamp = digest.hexdigest()
    for obj in list(globals().values()):
        cache_file = getattr(getattr(obj, "_cache", None), "_cache_file", None)
        if cache_file is not None and hasattr(cache_file, "_source_stamp"):
            cache_file._source_stamp = (cache_file._source_stamp, stamp)


_tie_cache_to_sources()

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
import os

# numba's OpenMP threads would otherwise spin at the end of every parallel pass: on a busy machine
# (more runnable threads than cores) the spinning thread takes the core its partner needs, and the
# full-data pass measured 3-12x slower than on one thread (200,000 x 20 with two other busy
# processes on 2 cores: 32 ms, passive 2.7 ms, one thread 3.7 ms). Passive waiting costs a wake-up
# (microseconds) per pass. libgomp reads this when numba first starts its threads; a value the
# user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba  # noqa: E402  (after the OpenMP setting above)
import numpy as np
from numba import prange, types  # noqa: E402
from numba.extending import overload, register_jitable

from .. import optim
from . import RULES
from ..objectives import LinearRegression, LogisticRegression, SoftmaxRegression, sigmoid

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

_squared_error = numba.njit(**_inline)(LinearRegression.pointwise)
_cross_entropy = numba.njit(**_inline)(LogisticRegression.pointwise)


def _dispatch(rules):
    """apply_rule(rule, w, g, lr, t, state, hp): one optimizer step with the rule of index ``rule``
    in RULES (the table of :mod:`descend.kernels`, read off the optimizer classes), each rule
    compiled as it is; a chain of ``if rule == i`` built over the table, inlined into the kernels.
    t is passed as a float so that b**t is the C library's pow, as in Python."""
    compiled = [numba.njit(**_inline)(r) for r in rules]

    def link(i):
        f = compiled[i]
        if i == len(compiled) - 1:
            def last(rule, w, g, lr, t, state, hp):
                f(w, g, lr, t, state, hp)

            return numba.njit(**_inline)(last)
        rest = link(i + 1)

        def step(rule, w, g, lr, t, state, hp):
            if rule == i:
                f(w, g, lr, t, state, hp)
            else:
                rest(rule, w, g, lr, t, state, hp)

        return numba.njit(**_inline)(step)

    return link(0)


apply_rule = _dispatch(RULES)


@numba.njit(**_inline)
def pointwise(model, z, y):
    """(loss, dloss/dz) of one output for the elementwise loss of index ``model`` in LOSSES."""
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
def assign_penalised(g, dz, X, j, w, d, bias, l2):
    """g = dz * [X[j], 1] + 2 l2 [c, 0] in one pass; returns (||c||^2, ||g||^2) (one row, one output)."""
    cc = 0.0
    gg = 0.0
    for k in range(d):
        c = w[k]
        gk = dz * X[j, k] + 2.0 * l2 * c
        g[k] = gk
        cc += c * c
        gg += gk * gk
    if bias:
        g[d] = dz
        gg += dz * dz
    return cc, gg


@numba.njit(**_fast)
def assign_blocks_penalised(g, dz, X, j, w, d, bias, K, p, l2):
    """g_k = dz[k] * [X[j], 1] + 2 l2 [c_k, 0] for every block in one pass (one row); returns
    (||c||^2, ||g||^2)."""
    cc = 0.0
    gg = 0.0
    x = X[j]
    for k in range(K):
        off = k * p
        wk = w[off:off + d]
        gk = g[off:off + d]
        dk = dz[k]
        for i in range(d):
            c = wk[i]
            gi = dk * x[i] + 2.0 * l2 * c
            gk[i] = gi
            cc += c * c
            gg += gi * gi
        if bias:
            g[off + d] = dk
            gg += dk * dk
    return cc, gg


@numba.njit(**_fast)
def finish_gradient(g, w, m, l2, K, p, d):
    """g = g / m + 2 l2 [c, 0] over the K blocks in one pass; returns (||c||^2, ||g||^2)."""
    cc = 0.0
    gg = 0.0
    if m == 1.0 and l2 == 0.0:  # one row, no penalty: g as it is (x / 1 == x)
        for i in range(g.size):
            gg += g[i] * g[i]
        return cc, gg
    if m == 1.0:
        for k in range(K):
            off = k * p
            for i in range(d):
                c = w[off + i]
                gi = g[off + i] + 2.0 * l2 * c
                g[off + i] = gi
                cc += c * c
                gg += gi * gi
            for i in range(d, p):
                gg += g[off + i] * g[off + i]
        return cc, gg
    for k in range(K):
        off = k * p
        for i in range(d):
            c = w[off + i]
            gi = g[off + i] / m + 2.0 * l2 * c
            g[off + i] = gi
            cc += c * c
            gg += gi * gi
        for i in range(d, p):
            gi = g[off + i] / m
            g[off + i] = gi
            gg += gi * gi
    return cc, gg


@numba.njit(**_fast)
def norm(g):
    s = 0.0
    for k in range(g.size):
        s += g[k] * g[k]
    return math.sqrt(s)




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


def _inlined(f):
    """The same function, inlined into the (fast-math, parallel) full-data pass."""
    return numba.njit(**_fast_inline)(f.py_func) if hasattr(f, "py_func") else f


# --- several outputs sharing X (one-vs-rest, softmax): block k of w is [c_k, b_k] at k * p ----

@numba.njit(**_fast)
def decisions(X, j, w, d, bias, K, p, z):
    """z[k] = X[j] . c_k (+ b_k) for the K blocks of w (block k starts at k * p)."""
    x = X[j]
    for k in range(K):
        off = k * p
        wk = w[off:off + d]  # views: w[off + i] with an offset LLVM cannot prove >= 0 does not vectorise
        s = 0.0
        for i in range(d):
            s += x[i] * wk[i]
        if bias:
            s += w[off + d]
        z[k] = s


@numba.njit(**_fast)
def accumulate_blocks(g, dz, X, j, d, bias, K, p, first_row):
    """g_k (+)= dz[k] * [X[j], 1] for every block k; ``first_row`` assigns instead of adding."""
    x = X[j]
    for k in range(K):
        off = k * p
        gk = g[off:off + d]
        dk = dz[k]
        if first_row:
            for i in range(d):
                gk[i] = dk * x[i]
            if bias:
                g[off + d] = dk
        else:
            for i in range(d):
                gk[i] += dk * x[i]
            if bias:
                g[off + d] += dk


@numba.njit(**_strict)
def softmax_row(z, c, K, dz):
    """SoftmaxRegression.pointwise for one row: returns lse(z) - z[c], and dz = softmax(z) - e_c
    (the same formula as the NumPy version: e_k = exp(z_k - max z), p_k = e_k / sum e)."""
    m = z[0]
    for k in range(1, K):
        if z[k] > m:
            m = z[k]
    s = 0.0
    for k in range(K):
        e = math.exp(z[k] - m)
        dz[k] = e
        s += e
    for k in range(K):
        dz[k] = dz[k] / s
    dz[c] -= 1.0
    return m + math.log(s) - z[c]


@numba.njit(**_strict)
def row_loss(model, Y, j, K, z, dz):
    """The loss of row j from its decisions z (K,), and d loss / d z into dz: the model's
    pointwise loss summed over the outputs, or the softmax cross-entropy (model 2)."""
    if model == 2:
        return softmax_row(z, int(Y[j, 0]), K, dz)
    loss = 0.0
    for k in range(K):
        loss_k, dz_k = pointwise(model, z[k], Y[j, k])
        loss += loss_k
        dz[k] = dz_k
    return loss


@numba.njit(**_strict)
def add_penalty(w, g, l2, K, p, d):
    """g_c += 2 l2 c over every coefficient (never a bias); returns l2 ||c||^2."""
    s = 0.0
    for k in range(K):
        off = k * p
        for i in range(d):
            c = w[off + i]
            s += c * c
            g[off + i] += 2.0 * l2 * c
    return l2 * s


assign_blocks_penalised_inline = _inlined(assign_blocks_penalised)


@numba.njit(**_fast)
def one_row_gradient(model, X, Y, j, w, g, z, dz, d, bias, K, p, l2):
    """One row, K outputs: the decisions, the row's loss and dz, then g = dz_k [X[j], 1] + 2 l2 [c_k, 0]
    in one pass; returns (loss, ||c||^2, ||g||^2). One compiled function: split into separate
    calls, the same work measured 2-6x slower here (2,000 x 64, K = 10)."""
    decisions_inline(X, j, w, d, bias, K, p, z)
    loss = row_loss(model, Y, j, K, z, dz)
    cc, gg = assign_blocks_penalised_inline(g, dz, X, j, w, d, bias, K, p, l2)
    return loss, cc, gg


decision_inline = _inlined(decision)
accumulate_inline = _inlined(accumulate)
decisions_inline = _inlined(decisions)
accumulate_blocks_inline = _inlined(accumulate_blocks)


# --- the kernels ------------------------------------------------------------------------------

@numba.njit(**_strict)
def run_steps(model, K, l2, rule, X, Y, bias, w, state, hp, t0, order, batch_size, first, last, lrs,
              out_loss, out_gnorm, out_lr, progress, g, z, dz):
    """Steps ``first``..``last - 1`` of an epoch over the rows of X; batch s is order[s*B : (s+1)*B].

    Per step: the batch loss and gradient (mean over its rows, plus the L2 penalty), then the
    non-finite check (return False before updating), then the optimizer rule; the step's loss,
    gradient norm and learning rate go to out_*[s], and progress[0] = the steps done.
    """
    n = order.size
    d = X.shape[1]
    p = d + bias
    if batch_size == 1 and K == 1 and model != 2:  # per-sample SGD on one output: lean
        for s in range(first, last):
            if s + PREFETCH_ROWS < n:  # the rows (and targets) of a shuffled order miss the cache
                prefetch_row(X, order[s + PREFETCH_ROWS])
                prefetch_row(Y, order[s + PREFETCH_ROWS])
            j = order[s]
            if l2 == 0.0:
                zj, xx = decision_and_sqnorm(X, j, w, d, bias)
                loss, dzj = pointwise(model, zj, Y[j, 0])
                assign(g, dzj, X, j, d, bias)
                gnorm = math.sqrt(dzj * dzj * xx)  # ||dz [x, 1]||, squared first: overflows where g.g would
            else:
                loss, dzj = pointwise(model, decision(X, j, w, d, bias), Y[j, 0])
                cc, gg = assign_penalised(g, dzj, X, j, w, d, bias, l2)
                loss += l2 * cc
                gnorm = math.sqrt(gg)
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
        cc = 0.0
        gg = 0.0
        for r in range(lo, hi):
            if r + PREFETCH_ROWS < n:  # the rows (and targets) of a shuffled order miss the cache
                prefetch_row(X, order[r + PREFETCH_ROWS])
                prefetch_row(Y, order[r + PREFETCH_ROWS])
            j = order[r]
            if K == 1 and model != 2:
                loss_j, dzj = pointwise(model, decision(X, j, w, d, bias), Y[j, 0])
                if r == lo:
                    assign(g, dzj, X, j, d, bias)
                else:
                    accumulate(g, dzj, X, j, d, bias)
            elif hi - lo == 1:  # one row of several outputs: the whole gradient in one fused function
                loss_j, cc, gg = one_row_gradient(model, X, Y, j, w, g, z, dz, d, bias, K, p, l2)
            else:
                decisions(X, j, w, d, bias, K, p, z)
                loss_j = row_loss(model, Y, j, K, z, dz)
                accumulate_blocks(g, dz, X, j, d, bias, K, p, r == lo)
            loss += loss_j
        m = hi - lo
        if m == 1 and (K > 1 or model == 2):
            pass  # g, ||c||^2 and ||g||^2 are done
        else:
            if m > 1:  # the mean over the batch (x / 1 == x: nothing to do for one row)
                loss /= m
            cc, gg = finish_gradient(g, w, float(m), l2, K, p, d)  # the mean, the penalty, ||g||^2: one pass
        loss += l2 * cc
        gnorm = math.sqrt(gg)
        out_loss[s] = loss
        out_gnorm[s] = gnorm
        if not (math.isfinite(loss) and math.isfinite(gnorm)):
            progress[0] = s
            return False
        lr = lrs[s]
        apply_rule(rule, w, g, lr, float(t0 + s + 1), state, hp)
        out_lr[s] = lr
        progress[0] = s + 1
    return True


@numba.njit(**_fast_inline)
def one_output_sums(model, X, Y, bias, w, lo, hi, acc, want_grad):
    """chunk_sums for one output of an elementwise loss; ``model`` is a constant at each call
    site, so the loss's branch is folded and the row loop vectorises. With the gradient, rows go
    four at a time: four independent dot products, then one pass adding the four rows' dz * x to
    the sum (26 -> 19 ns a row on 4,096 x 32 in cache, one row at a time against four)."""
    d = X.shape[1]
    P = acc.size - 1
    c = w[:d]
    a = acc[:d]
    b = w[d] if bias else 0.0
    loss = 0.0
    if want_grad:
        gb = 0.0
        j = lo
        while j + 4 <= hi:
            x0 = X[j]
            x1 = X[j + 1]
            x2 = X[j + 2]
            x3 = X[j + 3]
            z0 = 0.0
            z1 = 0.0
            z2 = 0.0
            z3 = 0.0
            for i in range(d):
                ci = c[i]
                z0 += x0[i] * ci
                z1 += x1[i] * ci
                z2 += x2[i] * ci
                z3 += x3[i] * ci
            l0, r0 = pointwise(model, z0 + b, Y[j, 0])
            l1, r1 = pointwise(model, z1 + b, Y[j + 1, 0])
            l2, r2 = pointwise(model, z2 + b, Y[j + 2, 0])
            l3, r3 = pointwise(model, z3 + b, Y[j + 3, 0])
            loss += (l0 + l1) + (l2 + l3)
            gb += (r0 + r1) + (r2 + r3)
            for i in range(d):
                a[i] += (r0 * x0[i] + r1 * x1[i]) + (r2 * x2[i] + r3 * x3[i])
            j += 4
        for r in range(j, hi):
            x = X[r]
            z = 0.0
            for i in range(d):
                z += x[i] * c[i]
            loss_r, dz = pointwise(model, z + b, Y[r, 0])
            loss += loss_r
            gb += dz
            for i in range(d):
                a[i] += dz * x[i]
        if bias:
            acc[d] += gb
    else:
        for r in range(lo, hi):
            x = X[r]
            z = 0.0
            for i in range(d):
                z += x[i] * c[i]
            loss += pointwise(model, z + b, Y[r, 0])[0]
    acc[P] += loss


@numba.njit(**_fast_inline)
def chunk_sums(model, K, X, Y, bias, w, lo, hi, acc, want_grad):
    """acc[:P] += sum of d loss_j / d w and acc[P] += sum of loss_j over rows lo..hi-1 of X.
    The branches on the model and the bias are taken once per chunk, with constants in each
    row loop (a run-time ``bias`` inside the row loop measured ~8x slower here on 2,000 x 5:
    LLVM does not unswitch it)."""
    if K == 1 and model == 0 and bias:
        one_output_sums(0, X, Y, True, w, lo, hi, acc, want_grad)
        return
    if K == 1 and model == 0:
        one_output_sums(0, X, Y, False, w, lo, hi, acc, want_grad)
        return
    if K == 1 and model == 1 and bias:
        one_output_sums(1, X, Y, True, w, lo, hi, acc, want_grad)
        return
    if K == 1 and model == 1:
        one_output_sums(1, X, Y, False, w, lo, hi, acc, want_grad)
        return
    d = X.shape[1]
    p = d + bias
    P = acc.size - 1
    z = np.empty(K)
    dz = np.empty(K)
    for j in range(lo, hi):
        decisions_inline(X, j, w, d, bias, K, p, z)
        acc[P] += row_loss(model, Y, j, K, z, dz)
        if want_grad:
            accumulate_blocks_inline(acc, dz, X, j, d, bias, K, p, False)


@numba.njit(parallel=True, cache=True, error_model="numpy", nogil=True, fastmath=FASTMATH)
def loss_grad_sums_parallel(model, K, X, Y, bias, w, g, want_grad):
    """g += sum over the rows of X of d loss_j / d w; returns sum_j loss_j (no mean, no
    penalty): the partial sums of one chunk of rows. Sub-chunks of CHUNK_ROWS rows are summed
    separately, in parallel, then added in order, so the result does not depend on the number
    of threads (and equals the serial twin's)."""
    n = X.shape[0]
    P = g.size
    n_chunks = (n + CHUNK_ROWS - 1) // CHUNK_ROWS
    partial = np.zeros((n_chunks, P + 1))
    for c in prange(n_chunks):
        chunk_sums(model, K, X, Y, bias, w, c * CHUNK_ROWS, min((c + 1) * CHUNK_ROWS, n), partial[c], want_grad)
    loss = 0.0
    for c in range(n_chunks):
        loss += partial[c, P]
        if want_grad:
            for k in range(P):
                g[k] += partial[c, k]
    return loss


@numba.njit(cache=True, error_model="numpy", nogil=True, fastmath=FASTMATH)
def loss_grad_sums_serial(model, K, X, Y, bias, w, g, want_grad):
    """:func:`loss_grad_sums_parallel` on one thread (small data: threads cost more than they give),
    the same sub-chunks added in the same order."""
    n = X.shape[0]
    P = g.size
    acc = np.zeros(P + 1)
    loss = 0.0
    for lo in range(0, n, CHUNK_ROWS):
        acc[:] = 0.0
        chunk_sums(model, K, X, Y, bias, w, lo, min(lo + CHUNK_ROWS, n), acc, want_grad)
        loss += acc[P]
        if want_grad:
            for k in range(P):
                g[k] += acc[k]
    return loss


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


def tie_cache_to_sources(functions, modules):
    """numba invalidates a cached function only when its own file changes; compiled code that also
    compiles code from other files (optim.py's rules, objectives.py's losses) folds the contents of
    those ``modules`` into each of ``functions``' cache stamps. (Uses numba internals; without
    them, a no-op.)"""
    import hashlib
    import inspect
    from pathlib import Path

    digest = hashlib.sha256()
    for module in modules:
        digest.update(Path(inspect.getfile(module)).read_bytes())
    stamp = digest.hexdigest()
    for obj in functions:
        cache_file = getattr(getattr(obj, "_cache", None), "_cache_file", None)
        if cache_file is not None and hasattr(cache_file, "_source_stamp"):
            cache_file._source_stamp = (cache_file._source_stamp, stamp)


def _tie_these_kernels():
    import sys

    from .. import objectives

    tie_cache_to_sources(list(globals().values()), (optim, objectives, sys.modules[__name__]))


_tie_these_kernels()

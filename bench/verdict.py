"""What the verdict costs: ``python -m bench.verdict [--rows N] [--repeats R]``.

On N x 32 data (default 1e6 rows, 256 MB): the curvature the verdict may need, from the cached
Gram matrix built a chunk of rows at a time, against the old way (the Hessian from a
``column_stack`` copy of X with a bias column); and the verdict's share of whole runs that end
well (full batch, 20 epochs) and of a per-sample run (3 epochs), measured side by side in one
process. The verdict is :func:`descend.verdicts.judge`, timed by calling it again on the result.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

import descend as ds
from descend import curvature as C
from descend import verdicts


def timed(fn, repeats):
    best = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best.append(time.perf_counter() - t)
    return float(np.median(best)), out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((a.rows, 32))
    y = X @ rng.standard_normal(32) + 0.1 * rng.standard_normal(a.rows)

    def old_hessian():
        Xb = np.column_stack([X, np.ones(len(X))])
        return np.linalg.eigvalsh(2.0 * (Xb.T @ Xb) / len(X))[-1]

    def new_first():
        obj = ds.LinearRegression(X, y)
        return C.curvature(obj)

    t_old, lam_old = timed(old_hessian, a.repeats)
    t_new, lam_new = timed(new_first, a.repeats)
    obj = ds.LinearRegression(X, y)
    C.curvature(obj)
    t_cached, _ = timed(lambda: C.curvature(obj), a.repeats)
    fresh = ds.LinearRegression(X, y)
    tracemalloc.start()
    C.curvature(fresh)
    peak_new = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    tracemalloc.start()
    old_hessian()
    peak_old = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert abs(lam_old - lam_new) <= 1e-10 * lam_old

    w0 = np.zeros(33)
    opt = ds.optim.SGD(lr=0.5 / lam_new)
    ds.minimize(obj, w0, optimizer=opt, epochs=2)  # warm-up: numba compiles or loads its cache
    t_full, full = timed(lambda: ds.minimize(obj, w0, optimizer=opt, epochs=20), a.repeats)
    t_vfull, _ = timed(lambda: verdicts.judge(obj, full, full.reason or None), a.repeats)
    sgd = ds.optim.SGD(lr=1e-3)
    t_ps, ps = timed(lambda: ds.minimize(obj, w0, optimizer=sgd, batch_size=1, epochs=3, seed=0), 1)
    t_vps, _ = timed(lambda: verdicts.judge(obj, ps, ps.reason or None), a.repeats)

    print(f"data {a.rows} x 32 float64 ({X.nbytes / 1e6:.0f} MB); medians of {a.repeats}; machine shared with other sessions")
    print("| what | time | peak memory | note |")
    print("|---|---|---|---|")
    print(f"| λmax, old: Hessian from column_stack([X, 1]) | {t_old * 1e3:.0f} ms | {peak_old / 1e6:.0f} MB | a copy of X |")
    print(f"| λmax, new: Gram matrix by chunks (first call) | {t_new * 1e3:.0f} ms | {peak_new / 1e6:.1f} MB | {t_old / t_new:.1f}x faster |")
    print(f"| λmax, new: cached Gram (later calls) | {t_cached * 1e3:.2f} ms | - | no pass over X |")
    print(f"| minimize full batch, 20 epochs ({full.verdict}) | {t_full * 1e3:.0f} ms | - | verdict {t_vfull * 1e3:.1f} ms = {100 * t_vfull / t_full:.1f}% |")
    print(f"| minimize batch_size=1, 3 epochs ({ps.verdict}) | {t_ps * 1e3:.0f} ms | - | verdict {t_vps * 1e3:.1f} ms = {100 * t_vps / t_ps:.1f}% |")


if __name__ == "__main__":
    main()

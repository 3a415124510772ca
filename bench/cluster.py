"""descend on a Dask cluster vs dask-glm and vs in memory: ``python -m bench.cluster [--quick]``.

A LocalCluster of 2 worker processes with 1 thread each holds X (n x 32 float64, default
n = 2,000,000, rows in chunks of 250,000) and y, persisted once; then, side by side in one run:

1. full-batch GD: seconds per step of ``ds.minimize`` on the cluster vs
   ``dask_glm.algorithms.gradient_descent`` (family Normal, normalize=False) on the same
   persisted arrays. Per-step times are differences of two run lengths, descend's from timestamps at the loop's epoch boundaries (the median gap), dask-glm's as
   differences of two run lengths, (t(k2) - t(k1)) / (k2 - k1), so its set-up cancels.
2. the same descend GD step in memory (numba kernel, the client's 2 threads): the engine's
   overhead per step is the difference.
3. 10 full-batch Adam steps on the cluster vs in memory: the largest relative weight difference.
4. local SGD with averaging (per-sample, 2 replicas, averaged once per epoch and every 10,000
   steps) vs single-machine per-sample SGD: the full-data loss after each of 3 epochs.

Needs ``pip install -e '.[bench]'`` (dask, distributed, dask-glm 0.4.0).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import descend as ds


class Clock(ds.monitors.Monitor):
    """The loop's seconds per epoch (= per step in full batch): the median gap between epoch boundaries."""

    def on_start(self, run):
        self.t = []

    def on_epoch(self, run):
        self.t.append(time.perf_counter())

    @property
    def step(self):
        return float(np.median(np.diff(self.t)))


def median(calls):
    """The median wall time of the calls (each run once, in order)."""
    times = []
    for call in calls:
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def per_step(run, k1, k2):
    """(t(k2) - t(k1)) / (k2 - k1): seconds per step with the fixed costs cancelled."""
    t = time.perf_counter()
    run(k1)
    t1 = time.perf_counter() - t
    t = time.perf_counter()
    run(k2)
    t2 = time.perf_counter() - t
    return (t2 - t1) / (k2 - k1)


def main(argv=None):
    import dask
    import dask.array as da
    import distributed
    from distributed import Client, LocalCluster

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny data: only checks that the script works")
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--chunk", type=int, default=250_000)
    args = ap.parse_args(argv)
    n, d, chunk = (40_000, 32, 10_000) if args.quick else (args.rows, 32, args.chunk)
    k2 = 5 if args.quick else 25
    glm_k1, glm_k2 = (2, 4) if args.quick else (3, 8)
    rows = []

    def report(what, value, note=""):
        rows.append((what, value, note))
        print(f"  {what:<62} {value:>12}  {note}", flush=True)

    print(f"descend on Dask: LocalCluster 2 workers x 1 thread (processes), X {n} x {d} float64 in chunks of {chunk}")
    print(f"  dask {dask.__version__}, distributed {distributed.__version__}, {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.1f} at start (a shared machine)")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        rng = da.random.default_rng(0)
        X = rng.standard_normal((n, d), chunks=(chunk, d))
        w_true = np.random.default_rng(1).standard_normal(d)
        y = X @ w_true + 0.1 * rng.standard_normal(n, chunks=chunk)
        X, y = client.persist([X, y])
        distributed.wait([X, y])

        src = ds.data.dask(X, y)
        obj = ds.LinearRegression(src, bias=False)
        lr = 0.1
        w0 = np.zeros(d)

        clock = Clock()

        def descend_gd(k, objective=obj, **kw):
            return ds.minimize(objective, w0, optimizer=ds.optim.SGD(lr=lr), epochs=k, callbacks=[clock], **kw)

        t = time.perf_counter()
        obj.loss(w0)  # the one persist-and-check pass (chunks prepared on the workers, numba loaded there)
        report("descend: persist + check pass (once)", f"{time.perf_counter() - t:.2f} s")
        descend_gd(2)  # warm
        descend_gd(k2)
        t_descend = clock.step
        report("descend full-batch GD step on the cluster", f"{t_descend * 1e3:.1f} ms", "1 pass, 1 round trip")

        import dask_glm.algorithms as glm
        from dask_glm.families import Normal

        def glm_gd(k):
            return glm.gradient_descent(X, y, max_iter=k, tol=-np.inf, family=Normal, normalize=False)

        glm_gd(1)  # warm
        t_glm = per_step(glm_gd, glm_k1, glm_k2)
        report("dask_glm.algorithms.gradient_descent iteration", f"{t_glm * 1e3:.1f} ms",
               f"dask-glm / descend = {t_glm / t_descend:.1f}x (target >= 3x)")

        Xm, ym = client.compute([X, y], sync=True)
        local = ds.LinearRegression(Xm, ym, bias=False)

        descend_gd(2, local, backend="numba")
        descend_gd(k2, local, backend="numba")
        t_local = clock.step
        report("descend full-batch GD step in memory (numba, 2 threads)", f"{t_local * 1e3:.1f} ms",
               "the loop's epoch on the numba backend")
        report("  overhead of the cluster per step", f"{1e3 * (t_descend - t_local):.1f} ms",
               f"cluster step / in-memory step = {t_descend / t_local:.1f}x")
        from descend import kernels

        probe = np.random.default_rng(2).standard_normal((5, d))
        t_pass_mem = median([lambda v=v: kernels.full_loss_and_grad(local, v) for v in probe])
        t_pass_dask = median([lambda v=v: obj.engine.loss_and_grad(v) for v in probe])  # new weights: no cache
        t_rt = median([lambda: client.submit(abs, -1, pure=False).result()] * 5)
        report("one loss-and-gradient pass in memory (numba, 2 threads)", f"{t_pass_mem * 1e3:.1f} ms")
        report("one loss-and-gradient pass on the cluster", f"{t_pass_dask * 1e3:.1f} ms",
               f"overhead {1e3 * (t_pass_dask - t_pass_mem):.1f} ms per pass")
        report("one empty task's round trip (client -> scheduler -> worker)", f"{t_rt * 1e3:.1f} ms")

        adam = dict(optimizer=ds.optim.Adam(lr=0.05), epochs=10)
        r_dask = ds.minimize(obj, w0, **adam)
        r_mem = ds.minimize(local, w0, backend="numba", **adam)
        rel = float(np.max(np.abs(r_dask.w - r_mem.w) / np.maximum(np.abs(r_mem.w), 1e-300)))
        report("10 full-batch Adam steps: max |w_dask - w_local| / |w_local|", f"{rel:.1e}", "target <= 1e-10")

        sgd = dict(optimizer=ds.optim.SGD(lr=2e-3), batch_size=1, epochs=3, seed=0)
        r_one = ds.minimize(local, w0, backend="numba", **sgd)
        r_avg = ds.minimize(obj, w0, **sgd)
        sync_steps = max(1, n // 200)
        r_sync = ds.minimize(ds.LinearRegression(ds.data.dask(X, y, sync=sync_steps), bias=False), w0, **sgd)
        for name, r in (("single-machine per-sample SGD", r_one), ("local SGD, 2 replicas, averaged per epoch", r_avg),
                        (f"local SGD, 2 replicas, averaged every {sync_steps} steps", r_sync)):
            report(f"loss after epochs 1, 2, 3: {name}", " ".join(f"{v:.5f}" for v in r.history.epoch_loss[1:]),
                   f"{r.wall_time:.2f} s")
        noise = float(np.mean((Xm @ w_true - ym) ** 2))
        report("the noise floor (loss at the true weights)", f"{noise:.5f}")

        # 5. loss against epochs where it differs: few steps per epoch on ill-conditioned data
        report("loss against epochs 0..6, 20,000 x 32, columns scaled 1 .. 0.03, per-sample SGD lr 0.01:", "")
        for name, r in curves(client):
            report(f"  {name}", " ".join(f"{v:.4f}" for v in r.history.epoch_loss), f"{r.wall_time:.2f} s")
    return rows


def curves(client, n=20_000, d=32, epochs=6):
    """Single-machine per-sample SGD vs local SGD with averaging (2 and 4 replicas; per epoch and
    every 500 steps) on data whose slow directions take several epochs."""
    import dask.array as da

    rng = np.random.default_rng(3)
    X = rng.standard_normal((n, d)) * np.logspace(0, -1.5, d)
    y = X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    Xd, yd = da.from_array(X, chunks=(2_500, d)), da.from_array(y, chunks=2_500)
    run = dict(optimizer=ds.optim.SGD(lr=0.01), batch_size=1, epochs=epochs, seed=0)
    w0 = np.zeros(d + 1)
    out = [("single machine (sequential SGD)", ds.minimize(ds.LinearRegression(X, y), w0, **run))]
    for G, sync in ((2, "epoch"), (2, 500), (4, "epoch"), (4, 500)):
        src = ds.data.dask(Xd, yd, groups=G, sync=sync)
        label = f"local SGD, {G} replicas, averaged {'per epoch' if sync == 'epoch' else f'every {sync} steps'}"
        out.append((label, ds.minimize(ds.LinearRegression(src), w0, **run)))
    return out
    return rows


if __name__ == "__main__":
    main()

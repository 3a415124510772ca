"""descend's benchmarks: ``python -m bench [--quick] [--repeats N]`` (``make bench``).

Builds the data, runs descend and its peers (scikit-learn, PyTorch, plain NumPy) side by side
in this one process and prints the machine, the BLAS, and a table of medians and ratios.
Times are wall-clock medians of ``--repeats`` runs after one warm-up (so numba compilation
and caches are excluded). Some peers are too slow to run whole: they run on a subset of rows
or batches and are scaled up linearly; the table says so in the "note" column.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

import descend as ds
from descend import batching, kernels, optim

ROOT = Path(__file__).resolve().parents[1]


def median_time(fn, repeats, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def machine_info() -> list[str]:
    import numba
    import sklearn

    lines = [f"python {platform.python_version()} on {platform.platform()}"]
    try:
        lines_ = Path("/proc/cpuinfo").read_text().splitlines()
        model = next(line.split(":", 1)[1].strip() for line in lines_ if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor()
    lines.append(f"cpu: {model}, {os.cpu_count()} logical cores; numba threads {numba.get_num_threads()}")
    versions = f"numpy {np.__version__}, numba {numba.__version__}, scikit-learn {sklearn.__version__}"
    try:
        import torch

        versions += f", torch {torch.__version__}"
    except ImportError:
        versions += ", torch not installed"
    lines.append(versions)
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            lines.append(f"blas: {pool.get('internal_api')} {pool.get('version')} ({pool.get('threading_layer', '-')}), "
                         f"{pool.get('num_threads')} threads, {pool.get('architecture', '-')}")
    except ImportError:
        lines.append("blas: threadpoolctl not installed")
    return lines


class Table:
    def __init__(self):
        self.rows = []  # (section, what, seconds, note)

    def add(self, section, what, seconds, note=""):
        self.rows.append((section, what, seconds, note))
        print(f"  {section:<24} {what:<52} {seconds * 1e3:10.2f} ms  {note}", flush=True)


def data(n, d, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(dtype)
    y = (X @ rng.normal(size=d) + 0.1 * rng.normal(size=n)).astype(dtype)
    return X, y


def one_epoch_runner(obj, opt, batch_size, shuffle, backend_epoch, epoch=0, seed=0):
    """A callable that runs one epoch of the loop's epoch runner (order generation included)."""
    steps = batching.steps_per_epoch(obj.n_samples, batch_size)
    # the order as the loop computes it for this runner (the numba path has a compiled twin)
    make_order = kernels.epoch_order if backend_epoch is kernels.numba_epoch else batching.epoch_order
    outs = [np.empty(steps) for _ in range(3)]
    progress = np.zeros(1, dtype=np.int64)

    def run():
        w = np.zeros(obj.n_params)
        state = opt.init(w)
        order = None if batch_size is None else make_order(obj.n_samples, epoch, seed, shuffle)
        progress[0] = 0
        backend_epoch(obj, w, opt, state, order, batch_size, *outs, progress)
        return w

    return run


def bench_per_sample(table, n, d, repeats, numpy_rows):
    from sklearn.linear_model import SGDRegressor

    X, y = data(n, d)
    obj = ds.LinearRegression(X, y, bias=True)
    lr = 5e-4  # sklearn's loss is half of ours: its eta0 = 1e-3 makes the same updates as our lr = 5e-4
    sec = f"per-sample SGD d={d}"
    t_numba = median_time(one_epoch_runner(obj, optim.SGD(lr=lr), 1, True, kernels.numba_epoch), repeats)
    table.add(sec, "descend numba epoch (shuffled, loss recorded)", t_numba, "incl. the epoch's permutation")
    t_min = median_time(lambda: ds.minimize(obj, np.zeros(d + 1), optim.SGD(lr=lr), batch_size=1, epochs=1,
                                            backend="numba"), repeats)
    table.add(sec, "descend minimize(epochs=1), numba", t_min, "+ 2 full-data losses")

    def sk():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # max_iter=1 warns that it did not converge
            SGDRegressor(learning_rate="constant", eta0=1e-3, penalty=None, max_iter=1, tol=None, shuffle=True,
                         random_state=0).fit(X, y)

    t_sk = median_time(sk, repeats)
    table.add(sec, "scikit-learn SGDRegressor (1 epoch, shuffled)", t_sk, f"ratio sklearn/descend {t_sk / t_numba:.2f}x")
    sub = ds.LinearRegression(X[:numpy_rows], y[:numpy_rows], bias=True)
    t_np = median_time(one_epoch_runner(sub, optim.SGD(lr=lr), 1, True, ds.loop.numpy_epoch), max(1, repeats // 2))
    t_np *= n / numpy_rows
    table.add(sec, "descend numpy path (plain per-row loop)", t_np,
              f"{numpy_rows} rows timed, scaled x{n / numpy_rows:g}; ratio {t_np / t_numba:.1f}x")
    if d == 32:
        t_seq = median_time(one_epoch_runner(obj, optim.SGD(lr=lr), 1, False, kernels.numba_epoch), repeats)
        table.add(sec, "descend numba epoch, sequential order (read floor)", t_seq,
                  f"shuffled/sequential {t_numba / t_seq:.2f}x")
        t_block = median_time(one_epoch_runner(obj, optim.SGD(lr=lr), 1, "block", kernels.numba_epoch), repeats)
        table.add(sec, 'descend numba epoch, shuffle="block"', t_block,
                  f"incl. its order; block/sequential {t_block / t_seq:.2f}x; sklearn/block {t_sk / t_block:.2f}x")
        return t_numba, t_sk, t_seq, t_block
    return t_numba, t_sk


def bench_minibatch(table, n, d, repeats, torch_batches):
    X, y = data(n, d)
    obj = ds.LinearRegression(X, y, bias=True)
    B, lr = 64, 1e-3
    sec = f"mini-batch B={B} d={d}"
    t_numba = median_time(one_epoch_runner(obj, optim.SGD(lr=lr), B, True, kernels.numba_epoch), repeats)
    table.add(sec, "descend numba epoch", t_numba, "incl. the epoch's permutation")
    t_np = median_time(one_epoch_runner(obj, optim.SGD(lr=lr), B, True, ds.loop.numpy_epoch), repeats)
    table.add(sec, "descend numpy path epoch", t_np, f"ratio numpy/numba {t_np / t_numba:.1f}x")
    t_torch = None
    try:
        import torch

        torch.manual_seed(0)
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        steps = -(-n // B)
        k = min(torch_batches, steps)

        def torch_epoch():
            model = torch.nn.Linear(d, 1, dtype=torch.float64)
            opt = torch.optim.SGD(model.parameters(), lr=lr)
            perm = torch.randperm(n)
            for s in range(k):
                rows = perm[s * B : (s + 1) * B]
                opt.zero_grad()
                loss = torch.mean((model(Xt[rows]).squeeze(1) - yt[rows]) ** 2)
                loss.backward()
                opt.step()
                loss.item()  # record the loss, as descend does

        t_torch = median_time(torch_epoch, repeats) * steps / k
        table.add(sec, "PyTorch autograd + optim.SGD, manual slicing", t_torch,
                  f"{k} of {steps} batches timed, scaled; ratio torch/descend {t_torch / t_numba:.1f}x")
    except ImportError:
        table.add(sec, "PyTorch", float("nan"), "torch not installed")
    return t_numba, t_np, t_torch


def bench_full_batch(table, n, d, repeats):
    from descend.kernels import _compiled

    X, y = data(n, d)
    obj = ds.LinearRegression(X, y, bias=False)
    w = np.zeros(d)
    sec = f"full-batch GD n={n:.0e} d={d}"
    t_step = median_time(one_epoch_runner(obj, optim.SGD(lr=0.01), None, False, kernels.numba_epoch), repeats)
    table.add(sec, "descend numba GD step (fused one pass, parallel)", t_step)
    t_read = median_time(lambda: _compiled.streaming_sum(X), repeats)
    table.add(sec, "one streaming read of X (numba parallel sum)", t_read, f"step/read {t_step / t_read:.2f}x")
    t_sum = median_time(lambda: X.sum(axis=0), repeats)
    table.add(sec, "numpy X.sum(axis=0)", t_sum)
    t_np = median_time(lambda: X.T @ (X @ w - y), repeats)
    table.add(sec, "numpy X.T @ (X @ w - y)", t_np, f"ratio numpy/descend {t_np / t_step:.2f}x")
    return t_step, t_read, t_np


def bench_estimators(table, n, d, repeats, epochs=5):
    """What a user calls: the estimators against scikit-learn's SGD, same epochs, no tolerance."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import SGDClassifier, SGDRegressor
    from sklearn.preprocessing import StandardScaler

    X, y = data(n, d)
    sec = f"estimators n={n:.0e} d={d}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_sk = median_time(lambda: SGDRegressor(max_iter=epochs, tol=None, random_state=0).fit(X, y), repeats)
        table.add(sec, f"scikit-learn SGDRegressor(max_iter={epochs}).fit", t_sk)
        out = {"sk_reg": t_sk}
        for b in (1, 32):
            t = median_time(lambda: ds.GDRegressor(batch_size=b, max_epochs=epochs, tol=None, random_state=0)
                            .fit(X, y), repeats)
            out[f"reg_{b}"] = t
            table.add(sec, f"descend GDRegressor(batch_size={b}, max_epochs={epochs}).fit", t,
                      f"sklearn/descend {t_sk / t:.2f}x")
        Xd, yd = load_digits(return_X_y=True)
        Xd = StandardScaler().fit_transform(Xd)
        sec = "estimators digits"
        t_sk = median_time(lambda: SGDClassifier(loss="log_loss", max_iter=20, tol=None, random_state=0).fit(Xd, yd),
                           repeats)
        table.add(sec, "scikit-learn SGDClassifier(log_loss, max_iter=20).fit", t_sk, "one-vs-rest")
        t = median_time(lambda: ds.GDClassifier(batch_size=1, max_epochs=20, tol=None, random_state=0).fit(Xd, yd),
                        repeats)
        table.add(sec, "descend GDClassifier(batch_size=1, max_epochs=20).fit", t,
                  f"softmax; sklearn/descend {t_sk / t:.2f}x")
        t_ovr = median_time(lambda: ds.GDClassifier(batch_size=1, max_epochs=20, tol=None, random_state=0,
                                                    multi_class="ovr").fit(Xd, yd), repeats)
        table.add(sec, 'descend GDClassifier(..., multi_class="ovr").fit', t_ovr,
                  f"one-vs-rest; sklearn/descend {t_sk / t_ovr:.2f}x")
    out.update(sk_clf=t_sk, clf=t, clf_ovr=t_ovr)
    return out


def bench_minimize(table, n, d, repeats):
    """minimize end to end (boundaries, verdict and all): full batch against reads of X, per-sample
    against scikit-learn."""
    from sklearn.linear_model import SGDRegressor

    from descend.kernels import _compiled

    X, y = data(n, d)
    obj = ds.LinearRegression(X, y, bias=True)
    sec = f"minimize n={n:.0e} d={d}"
    t_fb = median_time(lambda: ds.minimize(obj, np.zeros(d + 1), optim.SGD(lr=0.01), epochs=20), repeats)
    table.add(sec, "minimize(batch_size=None, epochs=20)", t_fb)
    t_reads = median_time(lambda: [_compiled.streaming_sum(X) for _ in range(20)], repeats)
    table.add(sec, "20 streaming reads of X (numba parallel sum)", t_reads, f"minimize/reads {t_fb / t_reads:.2f}x")
    t_ps = median_time(lambda: ds.minimize(obj, np.zeros(d + 1), optim.SGD(lr=5e-4), batch_size=1, epochs=3,
                                           shuffle=True, seed=0), repeats)
    table.add(sec, "minimize(batch_size=1, epochs=3, shuffled)", t_ps)

    def sk():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            SGDRegressor(learning_rate="constant", eta0=1e-3, penalty=None, max_iter=3, tol=None, shuffle=True,
                         random_state=0).fit(X, y)

    t_sk = median_time(sk, repeats)
    table.add(sec, "scikit-learn SGDRegressor(max_iter=3, shuffled)", t_sk, f"sklearn/descend {t_sk / t_ps:.2f}x")
    return t_fb, t_reads, t_ps, t_sk


def bench_history_memory(table, n, d, epochs):
    """Peak memory allocated during a long per-sample run (the history is bounded), as traced by
    tracemalloc (NumPy reports its allocations to it; the process's peak RSS is a high-water mark
    of the whole benchmark run, so it cannot show this)."""
    import tracemalloc

    X, y = data(n, d)
    obj = ds.LinearRegression(X, y, bias=True)
    ds.minimize(obj, np.zeros(d + 1), optim.SGD(lr=1e-4), batch_size=1, epochs=2)  # warm
    tracemalloc.start()
    t = time.perf_counter()
    res = ds.minimize(obj, np.zeros(d + 1), optim.SGD(lr=1e-4), batch_size=1, epochs=epochs)
    t = time.perf_counter() - t
    grown = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    table.add(f"history n={n:.0e} d={d}", f"minimize(batch_size=1, epochs={epochs})", t,
              f"{res.history.n_steps:.2e} steps; peak traced allocation {grown:.0f} MB")
    return grown


def bench_demo(table, repeats):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
               MPLBACKEND="Agg")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "descend", "demo", "--quiet", "--out", tmp]
        t = median_time(lambda: subprocess.run(cmd, env=env, check=True, capture_output=True), repeats)
    table.add("descend demo", "warm wall time (new process, cached kernels)", t)
    return t


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes (seconds): checks that the benchmarks run")
    p.add_argument("--no-demo", action="store_true", help="skip the `descend demo` timing (a subprocess)")
    p.add_argument("--repeats", type=int, default=None, help="timed runs per measurement (default 5; 2 with --quick)")
    p.add_argument("--surfaces-only", action="store_true",
                   help="only what users call (estimators, minimize end to end, history memory)")
    args = p.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 5)
    if args.quick:
        n_ps, n_mb, n_fb, numpy_rows, torch_batches, dims = 2_000, 6_400, 20_000, 200, 5, (4, 32)
    else:
        n_ps, n_mb, n_fb, numpy_rows, torch_batches, dims = 1_000_000, 1_000_000, 2_000_000, 20_000, 1_000, (4, 32, 256)
    print("descend benchmarks" + (" (--quick: tiny sizes, numbers mean nothing)" if args.quick else ""))
    for line in machine_info():
        print("  " + line)
    print(f"  medians of {repeats} runs after a warm-up\n")
    table = Table()
    results = {}
    if args.quick:
        n_est, n_min, n_mem, mem_epochs = 2_000, 5_000, 2_000, 5
    else:
        n_est, n_min, n_mem, mem_epochs = 200_000, 1_000_000, 100_000, 500
    checks = []
    if not args.surfaces_only:
        for d in dims:
            results[f"per_sample_{d}"] = bench_per_sample(table, n_ps, d, repeats, numpy_rows)
        results["minibatch"] = bench_minibatch(table, n_mb, 32, repeats, torch_batches)
        results["full_batch"] = bench_full_batch(table, n_fb, 32, repeats)
        results["demo"] = float("nan") if args.no_demo else bench_demo(table, 1 if args.quick else repeats)
        t_numba, t_sk, t_seq, t_block = results["per_sample_32"]
        t_mb, t_mb_np, t_torch = results["minibatch"]
        t_step, t_read, _ = results["full_batch"]
        checks += [
            ("per-sample SGD epoch (kernel) >= 5x faster than sklearn SGDRegressor", t_sk / t_numba, ">=", 5),
            ("block-shuffled epoch <= 1.5x the sequential-read floor", t_block / t_seq, "<=", 1.5),
            ("mini-batch B=64 >= 40x PyTorch manual slicing", (t_torch or float("nan")) / t_mb, ">=", 40),
            ("mini-batch B=64 >= 3x descend's numpy path", t_mb_np / t_mb, ">=", 3),
            ("full-batch GD step <= 1.1x one streaming read of X", t_step / t_read, "<=", 1.1),
            ("descend demo < 3 s warm", results["demo"], "<", 3.0),
        ]
    est = bench_estimators(table, n_est, 20, repeats)
    t_fb, t_reads, t_ps, t_sk_ps = bench_minimize(table, n_min, 32, repeats)
    grown = bench_history_memory(table, n_mem, 8, mem_epochs)
    print("\ntargets (ratios from this run)")
    checks += [
        ("GDRegressor(batch_size=1) >= 1.5x faster than SGDRegressor", est["sk_reg"] / est["reg_1"], ">=", 1.5),
        ("GDRegressor(batch_size=32) >= 1.5x faster than SGDRegressor", est["sk_reg"] / est["reg_32"], ">=", 1.5),
        ("GDClassifier(batch_size=1) >= 1.5x faster than SGDClassifier", est["sk_clf"] / est["clf"], ">=", 1.5),
        ("minimize full batch 20 epochs <= 1.15x twenty reads of X", t_fb / t_reads, "<=", 1.15),
        ("minimize per-sample 3 epochs >= 5x faster than SGDRegressor", t_sk_ps / t_ps, ">=", 5),
        (f"{mem_epochs} per-sample epochs grow peak memory <= 150 MB", grown, "<=", 150),
    ]
    for what, value, op, goal in checks:
        ok = value >= goal if op == ">=" else value <= goal if op == "<=" else value < goal
        print(f"  {'met   ' if ok else 'MISSED'} {what}: {value:.2f}")
    return table


if __name__ == "__main__":
    main()

"""Streaming benchmarks (issue 13): ``python -m bench.stream [--rows N] [--repeats R]``.

Writes a Parquet file of N x 32 float64 features and a target (default 3,000,000 rows, ~800 MB,
under bench/out/, git-ignored; kept for the next run), then measures side by side in this one
process, interleaved repeat by repeat (the machine is shared: medians of ratios measured together):

- the streaming floor: pyarrow reading every row group of the 33 columns, nothing else;
- a full-batch epoch through ``minimize`` (E epochs read the data E + 1 times: each step's pass is
  also its epoch boundary's, plus the final boundary; reported per pass and per epoch);
- a ``shuffle="block"`` mini-batch 64 epoch through ``minimize`` (the steps' pass; the
  epoch-boundary loss is one more pass, reported apart);
- a hand-written loop of ``SGDRegressor.partial_fit`` over the same pyarrow buffers in the same
  block order (on the first buffers, scaled to the whole file);
- the peak resident memory growth of a fit with a 128 MB budget (a fresh process);
- the loss after 3 epochs of mini-batch 64 SGD with ``shuffle="block"`` at two budgets (buffer
  sizes) against a full in-memory shuffle of the same rows (the file's first feature is sorted, the
  case where block shuffling costs most).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import descend as ds
from descend.data import engine, sources

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
D = 32
LR = 0.002


def make_file(n: int) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = OUT / f"stream-{n}x{D}.parquet"
    if path.exists() and pq.ParquetFile(path).metadata.num_rows == n:
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    rows = int(min(sources.ROW_GROUP_ROWS, sources.ROW_GROUP_BYTES // (8 * (D + 1))))  # what `convert` writes
    rng = np.random.default_rng(0)
    coef = rng.standard_normal(D)
    schema = pa.schema([(f"x{j}", pa.float64()) for j in range(D)] + [("y", pa.float64())])
    tmp = path.with_suffix(".partial")
    with pq.ParquetWriter(tmp, schema) as writer:
        for start in range(0, n, rows):
            m = min(rows, n - start)
            X = rng.standard_normal((m, D))
            X[:, 0] = np.sqrt(3) * (2 * (start + np.arange(m)) / n - 1)  # sorted: block shuffling's hard case
            y = X @ coef + 0.5 + 0.5 * rng.standard_normal(m)
            writer.write_table(pa.table([*X.T, y], schema=schema), row_group_size=rows)
    tmp.replace(path)
    return path


def floor(path):
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    cols = [f"x{j}" for j in range(D)] + ["y"]
    for g in range(pf.metadata.num_row_groups):
        pf.read_row_group(g, columns=cols, use_threads=True)


def sklearn_loop(src, seed, max_rows):
    """What a user writes today: the same buffers in the same block order, partial_fit per 64 rows."""
    from sklearn.linear_model import SGDRegressor

    model = SGDRegressor(learning_rate="constant", eta0=LR / 2, penalty=None, alpha=0.0)
    rng, buffers = engine.block_plan(src, seed, 0)
    units = src.units()
    done = 0
    t = time.perf_counter()
    for buf in buffers:
        parts = list(src.chunks([units[i] for i in buf], prefetch=False))
        X = np.concatenate([c.rows() for c in parts])
        y = np.concatenate([c.y for c in parts])
        perm = rng.permutation(len(y))
        X, y = X[perm], y[perm]
        for s in range(0, len(y), 64):
            model.partial_fit(X[s : s + 64], y[s : s + 64])
        done += len(y)
        if done >= max_rows:
            break
    return (time.perf_counter() - t) * src.n_rows / done, done


MEMORY_SCRIPT = r"""
import sys, numpy as np, descend as ds, pyarrow as pa, pyarrow.parquet as pq
big, budget = sys.argv[1], sys.argv[2]
pf = pq.ParquetFile(big)
small = big + ".small.parquet"
pq.write_table(pf.read_row_group(0), small)
def status(field):
    for line in open('/proc/self/status'):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
runs = ((None, False, 2), (64, "block", 1))
for B, shuffle, epochs in runs:  # compile and warm up on one row group
    ds.minimize(ds.LinearRegression(ds.data.parquet(small, target="y", memory=budget)), np.zeros(33),
                optimizer=ds.optim.SGD(lr=0.002), batch_size=B, epochs=1, shuffle=shuffle)
for B, shuffle, epochs in runs:
    obj = ds.LinearRegression(ds.data.parquet(big, target="y", memory=budget))
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
    before = status('VmRSS:')
    ds.minimize(obj, np.zeros(33), optimizer=ds.optim.SGD(lr=0.002), batch_size=B, epochs=epochs, shuffle=shuffle)
    print(status('VmHWM:') - before, before)
"""


def memory_growth(path, budget="128MB"):
    out = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(path), budget], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, check=True)
    os.remove(str(path) + ".small.parquet")
    return [tuple(int(v) for v in line.split()) for line in out.stdout.split("\n") if line.strip()]


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.stream")
    ap.add_argument("--rows", type=int, default=3_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3, help="full-batch epochs per timed run")
    args = ap.parse_args(argv)
    import numba

    t = time.perf_counter()
    path = make_file(args.rows)
    size = path.stat().st_size
    print(f"file {path.relative_to(ROOT)}: {args.rows:,} x {D} float64 + target, {size / 1e6:.0f} MB "
          f"(made or checked in {time.perf_counter() - t:.1f} s); load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores, numba threads {numba.get_num_threads()}")
    src = ds.data.parquet(path, target="y", memory="128MB")
    obj = ds.LinearRegression(src)
    print(f"source: {src!r}; {len(src.units())} units of <= {src.unit_rows:,} rows, shuffle buffer "
          f"{src.buffer_rows:,} rows")
    w0 = np.zeros(D + 1)
    sgd = ds.optim.SGD(lr=LR)
    # warm-up: compile every kernel used below, fill the page cache
    small = ds.LinearRegression(ds.data.arrays(*ds.datasets.linear(3000, D), memory="1MB"))
    for B, sh in ((None, False), (64, False)):
        ds.minimize(small, w0, optimizer=sgd, batch_size=B, epochs=1, shuffle=sh)
    floor(path)
    ds.minimize(obj, w0, optimizer=sgd, batch_size=64, epochs=1, shuffle="block")

    rows = {k: [] for k in ("floor", "full_pass", "full_epoch", "full_call", "block_steps", "block_boundary",
                            "block_call", "cpu_floor", "cpu_full_pass", "cpu_block_call")}
    for r in range(args.repeats):
        t, c = time.perf_counter(), time.process_time()
        floor(path)
        rows["floor"].append(time.perf_counter() - t)
        rows["cpu_floor"].append(time.process_time() - c)
        t, c = time.perf_counter(), time.process_time()
        res = ds.minimize(obj, w0, optimizer=sgd, batch_size=None, epochs=args.epochs)
        rows["full_call"].append(time.perf_counter() - t)
        rows["cpu_full_pass"].append((time.process_time() - c) / (args.epochs + 1))
        rows["full_pass"].append(res.wall_time / (args.epochs + 1))
        rows["full_epoch"].append(res.wall_time / args.epochs)
        t, c = time.perf_counter(), time.process_time()
        res = ds.minimize(obj, w0, optimizer=sgd, batch_size=64, epochs=1, shuffle="block", seed=r)
        rows["block_call"].append(time.perf_counter() - t)
        rows["cpu_block_call"].append(time.process_time() - c)
        rows["block_steps"].append(float(res.history.epoch_time[-1]))
        rows["block_boundary"].append((res.wall_time - float(res.history.epoch_time[-1])) / 2)
        print(f"  repeat {r + 1}: floor {rows['floor'][-1]:.3f} s, full-batch pass {rows['full_pass'][-1]:.3f} s, "
              f"block epoch {rows['block_steps'][-1]:.3f} s; load {os.getloadavg()[0]:.1f}", flush=True)
    med = {k: statistics.median(v) for k, v in rows.items()}
    ratio = {k: statistics.median(a / f for a, f in zip(v, rows["floor"])) for k, v in rows.items()}
    cpu = {k: statistics.median(a / f for a, f in zip(rows["cpu_" + k], rows["cpu_floor"]))
           for k in ("full_pass", "block_call")}
    sk_time, sk_rows = sklearn_loop(src, 0, max_rows=min(args.rows, 500_000))
    mem = memory_growth(path)

    print()
    print("| what | time (median) | vs floor (median of per-repeat ratios) | target |")
    print("|---|---|---|---|")
    print(f"| pyarrow reads every row group (33 columns): the floor | {med['floor']:.3f} s | 1.00x | |")
    print(f"| full batch, per data pass ({args.epochs} epochs = {args.epochs + 1} passes through `minimize`) | "
          f"{med['full_pass']:.3f} s | {ratio['full_pass']:.2f}x | <= 1.3x |")
    print(f"| full batch, per epoch (the same runs: wall / {args.epochs}) | {med['full_epoch']:.3f} s | "
          f"{ratio['full_epoch']:.2f}x | |")
    print(f"| `shuffle=\"block\"` mini-batch 64, one epoch's steps | {med['block_steps']:.3f} s | "
          f"{ratio['block_steps']:.2f}x | <= 1.5x |")
    print(f"| its epoch-boundary loss (one more pass, each boundary) | {med['block_boundary']:.3f} s | "
          f"{ratio['block_boundary']:.2f}x | |")
    print(f"| CPU time (all threads) of a full-batch pass / of the floor | {med['cpu_full_pass']:.3f} s | "
          f"{cpu['full_pass']:.2f}x | |")
    print(f"| CPU time of a whole block run (3 passes: 2 boundaries and the steps) / of the floor | "
          f"{med['cpu_block_call']:.3f} s | {cpu['block_call']:.2f}x | |")
    print(f"| `SGDRegressor.partial_fit` loop, same buffers and order, batches of 64 (timed on "
          f"{sk_rows:,} rows, scaled) | {sk_time:.3f} s | {sk_time / med['floor']:.2f}x | descend >= 3x faster: "
          f"{sk_time / med['block_steps']:.1f}x |")
    budget = 128e6
    for (growth, before), what in zip(mem, ("full batch, 2 epochs", "block mini-batch 64, 1 epoch")):
        print(f"| peak RSS growth, {what}, 128 MB budget | {growth / 1e6:.0f} MB (from {before / 1e6:.0f} MB) | "
              f"{growth / budget:.2f}x budget | <= 1.5x |")

    # the convergence cost of block shuffling
    X, y = src.to_arrays()
    mem_obj = ds.LinearRegression(X, y)
    best = float(mem_obj.loss(np.linalg.lstsq(np.column_stack([X, np.ones(len(y))]), y, rcond=None)[0]))
    print()
    print(f"loss after 3 epochs of mini-batch 64 SGD (lr {LR}), from w = 0; the least-squares optimum is {best:.6g}:")
    print()
    print("| row order | buffer | loss after 3 epochs | excess over the optimum |")
    print("|---|---|---|---|")
    res = ds.minimize(mem_obj, w0, optimizer=sgd, batch_size=64, epochs=3, shuffle=True, seed=0)
    print(f"| full shuffle in memory (`shuffle=True`) | all {args.rows:,} rows | {res.loss:.6g} | "
          f"{res.loss - best:.3g} |")
    del X, y, mem_obj
    for memory in ("32MB", "128MB"):
        s = ds.data.parquet(path, target="y", memory=memory)
        res = ds.minimize(ds.LinearRegression(s), w0, optimizer=sgd, batch_size=64, epochs=3, shuffle="block", seed=0)
        print(f"| `shuffle=\"block\"`, memory {memory} | {s.buffer_rows:,} rows ({s.buffer_rows / args.rows:.1%}) | "
              f"{res.loss:.6g} | {res.loss - best:.3g} |")
    res = ds.minimize(obj, w0, optimizer=sgd, batch_size=64, epochs=3, shuffle=False)
    print(f"| file order (`shuffle=False`) | - | {res.loss:.6g} | {res.loss - best:.3g} |")


if __name__ == "__main__":
    main()

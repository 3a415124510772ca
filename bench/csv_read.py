"""Reading a CSV for ``descend fit``, against ``pandas.read_csv`` on the same file, side by side.

``python -m bench.csv_read [--rows 500000] [--cols 21] [--repeats 3]`` writes a CSV of random
numbers (20 features and a target, 206 MB at the default size) under bench/out/ (git-ignored;
kept between runs) and times, alternating, medians of ``--repeats``:

- ``pandas.read_csv(path)``: the floor the reader is held to (issue 10: at most 1.5x it);
- ``descend.datasets.load_csv(path, "y")``: what ``descend fit`` spends reading (header sniff,
  the C engine into float64, the finiteness and scale checks, X and y as arrays);
- the slow path alone (every cell as text, as the reader did before), once, for reference.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "out"


def make_csv(rows: int, cols: int, seed: int = 0) -> Path:
    path = OUT / f"read_{rows}x{cols}.csv"
    if path.exists():
        return path
    import pandas as pd

    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, cols - 1))
    y = X @ rng.standard_normal(cols - 1) + 0.1 * rng.standard_normal(rows)
    frame = pd.DataFrame(np.column_stack([X, y]), columns=[f"x{j}" for j in range(cols - 1)] + ["y"])
    tmp = path.with_suffix(".tmp")
    frame.to_csv(tmp, index=False, float_format="%.17g")
    tmp.rename(path)
    return path


def main(argv=None):
    import pandas as pd

    from descend import datasets

    p = argparse.ArgumentParser(prog="python -m bench.csv_read", description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=500_000)
    p.add_argument("--cols", type=int, default=21)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--no-slow", action="store_true", help="skip timing the slow path")
    args = p.parse_args(argv)
    path = make_csv(args.rows, args.cols)
    print(f"{path.name}: {args.rows:,} x {args.cols}, {path.stat().st_size / 1e6:.0f} MB; medians of "
          f"{args.repeats} alternating runs after a warm-up")

    def t_pandas():
        pd.read_csv(path)

    def t_descend():
        t = datasets.load_csv(path, "y")
        assert t.X.shape == (args.rows, args.cols - 1)

    def t_slow():
        cols = [f"x{j}" for j in range(args.cols - 1)] + ["y"]
        datasets._slow_path(path, dict(sep=",", header=0, index_col=False, usecols=list(range(args.cols)),
                                       engine="c", skipinitialspace=True, encoding="utf-8-sig"),
                            cols, list(range(args.cols)), cols[:-1], "y", False)

    fns = {"pandas.read_csv": t_pandas, "descend load_csv (fit's reader)": t_descend}
    times = {k: [] for k in fns}
    for fn in fns.values():
        fn()  # warm-up: page cache, imports
    for _ in range(args.repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    base = statistics.median(times["pandas.read_csv"])
    for k, ts in times.items():
        m = statistics.median(ts)
        print(f"  {k:<36} {m * 1e3:9.0f} ms   {m / base:5.2f}x pandas.read_csv")
    if not args.no_slow:  # once, after: its gigabytes of strings would disturb the runs above
        t0 = time.perf_counter()
        t_slow()
        m = time.perf_counter() - t0
        print(f"  {'descend slow path (text cells), 1 run':<36} {m * 1e3:9.0f} ms   {m / base:5.2f}x pandas.read_csv")
    ratio = statistics.median(times["descend load_csv (fit's reader)"]) / base
    print(f"  {'met   ' if ratio <= 1.5 else 'MISSED'} descend's reading <= 1.5x pandas.read_csv: {ratio:.2f}x")
    return ratio


if __name__ == "__main__":
    main()

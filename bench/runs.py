"""What recording a run costs: ``python -m bench.runs [--quick] [--repeats N]``.

A mini-batch fit of linear regression on 1e6 x 32 (float64, batch 64, SGD with momentum, the
compiled kernels) runs with and without ``store.recorder(...)``, alternating, in this one
process; the table gives the medians and the overhead of recording (target: at most 5%).
Each recorded run writes into a fresh store in a temporary folder (its creation included).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import descend as ds


class TimedRecorder(ds.runs.Recorder):
    """The recorder, with the time spent inside its hooks added up (its direct cost)."""

    spent = 0.0

    def _timed(name):
        def hook(self, *a):
            t = time.perf_counter()
            try:
                return getattr(ds.runs.Recorder, name)(self, *a)
            finally:
                self.spent += time.perf_counter() - t

        return hook

    on_start, on_epoch, on_end = _timed("on_start"), _timed("on_epoch"), _timed("on_end")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.runs", description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--features", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="tiny sizes: only check that the script works")
    args = ap.parse_args(argv)
    if args.quick:
        args.rows, args.epochs, args.repeats = 20_000, 2, 1
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.rows, args.features))
    y = X @ rng.standard_normal(args.features) + 0.1 * rng.standard_normal(args.rows)
    obj = ds.LinearRegression(X, y)
    w0 = np.zeros(obj.n_params)

    def fit(callbacks=()):
        return ds.minimize(obj, w0, optimizer=ds.optim.SGD(lr=1e-3, momentum=0.9), batch_size=args.batch_size,
                           epochs=args.epochs, seed=1, callbacks=callbacks)

    with tempfile.TemporaryDirectory() as tmp:
        fit()  # warm-up: kernels compiled or loaded from the cache
        ds.runs.Store(Path(tmp) / "warm").recorder  # the module loaded once
        plain, recorded, write, inside = [], [], [], []
        for r in range(args.repeats):
            t = time.perf_counter()
            ref = fit()
            plain.append(time.perf_counter() - t)
            store = ds.runs.Store(Path(tmp) / f"store{r}")
            t = time.perf_counter()
            rec = TimedRecorder(store, name=f"bench {r}")
            res = fit([rec])
            recorded.append(time.perf_counter() - t)
            inside.append(rec.spent / recorded[-1])
            assert np.array_equal(res.w, ref.w)  # recording never changes the run
            write.append(store.path.stat().st_size + (store.path.with_name("runs.sqlite-wal").stat().st_size
                                                      if store.path.with_name("runs.sqlite-wal").exists() else 0))
        t = time.perf_counter()
        back = store.load(1)
        load = time.perf_counter() - t
        assert np.array_equal(back.history.step_loss, res.history.step_loss)
    p, q = statistics.median(plain), statistics.median(recorded)
    steps = res.steps
    print(f"recording a run: {args.rows:,} x {args.features} float64, batch {args.batch_size}, {args.epochs} epochs "
          f"({steps:,} steps, backend {res.backend}); medians of {args.repeats} alternating runs")
    print(f"  fit, no recorder              {p * 1e3:10.1f} ms")
    print(f"  fit, store.recorder(...)      {q * 1e3:10.1f} ms   overhead {100 * (q / p - 1):+.1f}% (target <= 5%)")
    print(f"  time inside the recorder      {statistics.median(inside) * 100:10.1f} %    of the recorded fit "
          f"(its own hooks, timed; median)")
    print(f"  store size after one run      {statistics.median(write) / 1e6:10.2f} MB   "
          f"({len(back.history)} epoch records, {steps:,} step records)")
    print(f"  store.load(id)                {load * 1e3:10.1f} ms")
    return p, q


if __name__ == "__main__":
    main()

"""What a run costs: data passes per epoch, memory of the history, and the bookkeeping of an
interrupted compiled epoch. References: counters around the passes, a naive per-step loop
for the aggregates, tracemalloc for memory."""

import math
import tracemalloc

import numpy as np
import pytest
from numpy.testing import assert_allclose

import descend as ds
from descend import kernels, loop
from descend.monitors import Monitor

numba = pytest.importorskip("numba")


def problem(n=3000, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return ds.LinearRegression(X, X @ rng.normal(size=d) + 0.1 * rng.normal(size=n))


class PassCount(Monitor):
    """Records, at each boundary, how many full-data passes the run has made so far."""

    def __init__(self, counter):
        self.counter, self.seen = counter, []

    def on_epoch(self, run):
        self.seen.append(self.counter[0])


@pytest.mark.parametrize("batch_size", [None, 16])
def test_numba_path_makes_one_pass_per_epoch_boundary(monkeypatch, batch_size):
    """Full batch: the step uses its boundary's pass, so E epochs cost E + 1 passes; mini-batch:
    one fused loss-and-gradient pass per boundary (the gradient norm is always recorded)."""
    counter = [0]
    real = kernels.loss_grad_sums

    def counting(objective, X, Y, w, g_sum, want_grad=True):
        counter[0] += len(X) / objective.n_samples  # in units of the whole data
        return real(objective, X, Y, w, g_sum, want_grad)

    monkeypatch.setattr(kernels, "loss_grad_sums", counting)
    spy = PassCount(counter)
    res = ds.minimize(problem(), np.zeros(5), optimizer=ds.optim.SGD(lr=0.05), batch_size=batch_size, epochs=6,
                      callbacks=[spy], backend="numba")
    assert spy.seen == [1, 2, 3, 4, 5, 6, 7]  # boundary k has cost k + 1 passes, steps included
    assert np.all(np.isfinite(res.history.epoch_grad_norm))
    obj = problem()
    for w, gn in zip(res.history.w, res.history.epoch_grad_norm):
        assert gn == pytest.approx(np.linalg.norm(obj.grad(w)), rel=1e-10)


def test_numpy_path_makes_one_pass_per_epoch_boundary():
    counter = [0]

    class Counted(ds.LinearRegression):
        def loss_and_grad(self, w, rows=None):
            counter[0] += rows is None
            return super().loss_and_grad(w, rows)

        def loss(self, w, rows=None):
            counter[0] += rows is None
            return super().loss(w, rows)

    obj = problem()
    spy = PassCount(counter)
    res = ds.minimize(Counted(obj.X, obj.y), np.zeros(5), optimizer=ds.optim.SGD(lr=0.05), epochs=5,
                      callbacks=[spy], backend="numpy")
    assert spy.seen == [1, 2, 3, 4, 5, 6]
    # the step's loss is the boundary's: the same pass
    assert_allclose(res.history.step_loss, res.history.epoch_loss[:-1], rtol=0)


def test_small_full_batch_runs_on_one_thread():
    from descend.kernels import _compiled

    obj = problem(n=2000, d=5)
    assert obj.X.size <= kernels.SERIAL_MAX_VALUES
    before = set(_compiled.loss_grad_sums_parallel.signatures)
    ds.minimize(obj, np.zeros(6), epochs=3, backend="numba")
    assert set(_compiled.loss_grad_sums_parallel.signatures) == before  # the parallel twin was not used
    big = np.random.default_rng(0).normal(size=(kernels.SERIAL_MAX_VALUES // 4 + 1000, 4))
    g1, g2 = np.zeros(4), np.zeros(4)
    spec = kernels.spec(ds.LinearRegression(big, big[:, 0], bias=False))
    Y = np.ascontiguousarray(big[:, :1])
    a = _compiled.loss_grad_sums_parallel(spec.loss, 1, big, Y, False, np.ones(4), g1, True)
    b = _compiled.loss_grad_sums_serial(spec.loss, 1, big, Y, False, np.ones(4), g2, True)
    assert a == b and np.array_equal(g1, g2)  # the same sums in the same order, bit for bit


# --- bounded history ------------------------------------------------------------------------

def test_history_keeps_steps_whole_up_to_the_cap_then_aggregates(monkeypatch):
    obj = problem(n=200)
    kw = dict(optimizer=ds.optim.SGD(lr=0.01), batch_size=1, epochs=12, seed=3)
    naive = ds.minimize(obj, np.zeros(5), **kw).history  # 2,400 steps: all whole
    monkeypatch.setattr(ds.History, "step_cap", 500)
    monkeypatch.setattr(ds.History, "bucket_steps", 64)
    monkeypatch.setattr(ds.History, "max_buckets", 8)
    res = ds.minimize(obj, np.zeros(5), **kw)
    h = res.history
    assert h.aggregated and not naive.aggregated
    assert h.n_steps == naive.n_steps == 2400 == res.steps
    assert_allclose(h.step_loss[:500], naive.step_loss[:500], rtol=0)
    b = h.step_buckets
    assert len(b["count"]) <= 8 + 1 and b["count"].sum() == 1900
    # every bucket against the naive loop over the same steps
    ends = 500 + np.cumsum(b["count"])
    starts = ends - b["count"]
    for j, (s, e) in enumerate(zip(starts, ends)):
        sl = slice(s, e)
        assert b["loss_mean"][j] == pytest.approx(naive.step_loss[sl].mean(), rel=1e-12)
        assert b["loss_min"][j] == naive.step_loss[sl].min() and b["loss_max"][j] == naive.step_loss[sl].max()
        assert b["grad_norm_mean"][j] == pytest.approx(naive.grad_norm[sl].mean(), rel=1e-12)
        assert b["grad_norm_max"][j] == naive.grad_norm[sl].max()
        assert b["lr_last"][j] == naive.lr[e - 1] and b["epoch_last"][j] == naive.step_epoch[e - 1]
    # the per-step arrays: whole records, then one value per bucket, placed by step_index
    assert len(h.step_loss) == len(h.grad_norm) == len(h.lr) == len(h.step_epoch) == 500 + len(b["count"])
    assert h.step_index[-1] == 2400 and np.all(np.diff(h.step_index) >= 1)
    assert_allclose(h.epoch_loss, naive.epoch_loss, rtol=0)  # per-epoch records stay whole
    # plots read either form
    pytest.importorskip("matplotlib")
    ds.plot.loss_curve([res], per="step")


def test_history_memory_does_not_grow_with_the_run(monkeypatch):
    monkeypatch.setattr(ds.History, "step_cap", 2000)
    monkeypatch.setattr(ds.History, "bucket_steps", 16)
    monkeypatch.setattr(ds.History, "max_buckets", 64)
    obj = problem(n=1000)
    peaks = []
    for epochs in (10, 100):
        tracemalloc.start()
        res = ds.minimize(obj, np.zeros(5), optimizer=ds.optim.SGD(lr=0.001), batch_size=1, epochs=epochs,
                          backend="numba")
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert res.history.n_steps == 1000 * epochs
    # 90,000 more steps: whole records would add 90,000 x 24 bytes (2.2 MB); the growth is the
    # per-epoch records (weights etc.) only
    assert peaks[1] - peaks[0] < 300_000


def test_partial_fit_history_joins_bounded_histories(monkeypatch):
    from descend.estimators import GDRegressor

    monkeypatch.setattr(ds.History, "step_cap", 100)
    monkeypatch.setattr(ds.History, "bucket_steps", 8)
    monkeypatch.setattr(ds.History, "max_buckets", 16)
    obj = problem(n=600)
    est = GDRegressor(batch_size=1, random_state=0)
    for lo in range(0, 600, 300):
        est.partial_fit(obj.X[lo : lo + 300], obj.y[lo : lo + 300])
    assert est.history_.n_steps == 600 and est.history_.aggregated


# --- the steps a result reports are the steps its history holds ------------------------------

def test_interrupted_compiled_epoch_records_exactly_the_steps_taken(monkeypatch):
    """Ctrl-C between two compiled calls of an epoch: the history holds the steps the kernel
    reports as done, and the result's step count and the checkpoint's are that number."""
    obj = problem(n=5000)
    monkeypatch.setattr(kernels, "STEPS_PER_CALL", 700)
    real = kernels.run_steps
    calls = [0]

    def interrupting(*args, **kwargs):
        calls[0] += 1
        if calls[0] == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(kernels, "run_steps", interrupting)
    res = ds.minimize(obj, np.zeros(5), optimizer=ds.optim.Adam(lr=0.01), batch_size=1, epochs=3, backend="numba")
    assert res.status == "stopped"
    assert res.steps == res.history.n_steps == len(res.history.step_loss) == 3 * 700
    assert res.checkpoint["state"]["step"] == res.steps
    assert np.all(np.isfinite(res.history.step_loss))
    # resuming from the checkpoint continues the same run: step t of the resumed run is step t
    monkeypatch.setattr(kernels, "run_steps", real)
    full = ds.minimize(obj, np.zeros(5), optimizer=ds.optim.Adam(lr=0.01), batch_size=1, epochs=1,
                       backend="numba")
    assert_allclose(res.history.step_loss, full.history.step_loss[: 3 * 700], rtol=1e-12)
    assert math.isfinite(res.loss)


def test_order_drawn_ahead_is_the_epochs_order():
    """The next epoch's permutation, drawn on a second thread, is the array the loop would draw."""
    from descend import batching

    ahead = kernels.OrderPrefetcher(epochs=4)
    try:
        for epoch in (0, 1, 2, 3, 1):  # in order, then out of order (drawn afresh)
            np.testing.assert_array_equal(ahead(5000, epoch, 9), batching.epoch_order(5000, epoch, 9))
    finally:
        ahead.close()
    obj = problem(n=kernels.PREFETCH_ORDER_ROWS)
    runs = [ds.minimize(obj, np.zeros(5), optimizer=ds.optim.SGD(lr=1e-3), batch_size=4096, epochs=3, seed=2,
                        backend=b) for b in ("numpy", "numba")]
    assert_allclose(runs[1].history.step_loss, runs[0].history.step_loss, rtol=1e-10)


def test_constant_schedule_rates_are_the_schedules():
    s = ds.schedules.constant(0.3)
    np.testing.assert_array_equal(ds.schedules.evaluate(s, 7, 5), [s(k) for k in range(7, 12)])

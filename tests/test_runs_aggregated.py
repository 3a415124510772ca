"""Per-step records past the history's cap (aggregate buckets) go into the store and come back."""

import csv

import numpy as np
import pytest

import descend as ds
from descend.loop import History

pytestmark = pytest.mark.skipif(not hasattr(History, "step_cap"),
                                reason="needs the History that aggregates steps past a cap (issue 10); "
                                       "runs once that History is merged")


def test_aggregated_steps_are_stored_and_read_back(tmp_path, monkeypatch):
    monkeypatch.setattr(History, "step_cap", 50)
    monkeypatch.setattr(History, "max_buckets", 8)
    monkeypatch.setattr(History, "bucket_steps", 4)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 2))
    obj = ds.LinearRegression(X, X @ [1.0, -1.0] + 0.1 * rng.normal(size=90))
    store = ds.runs.Store(tmp_path)
    res = ds.minimize(obj, np.zeros(3), optimizer=ds.optim.SGD(lr=0.01), batch_size=1, epochs=5, seed=1,
                      callbacks=[store.recorder(name="long")], backend="numpy")
    h = res.history
    assert h.aggregated and len(h.step_buckets["count"]) <= 8 and h.n_steps == 450
    back = store.load(1).history
    assert back.aggregated and back.n_steps == 450
    for k, v in h.step_buckets.items():
        if k.endswith("_mean"):
            np.testing.assert_allclose(back.step_buckets[k], v, rtol=1e-15, err_msg=k)
        else:
            np.testing.assert_array_equal(back.step_buckets[k], v, err_msg=k)
    np.testing.assert_array_equal(back.step_index, h.step_index)
    np.testing.assert_allclose(back.step_loss, h.step_loss, rtol=1e-15)
    np.testing.assert_array_equal(back.step_loss[:50], h.step_loss[:50])
    np.testing.assert_array_equal(back.epoch_loss, h.epoch_loss)
    assert back.steps_taken == h.steps_taken
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    [path] = store.export_tensorboard([1], tmp_path / "tb")
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0})
    acc.Reload()
    assert [e.step for e in acc.Scalars("step/loss")] == h.step_index.tolist()
    [path] = store.export_csv([1], tmp_path / "csv")
    with open(path / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["loss"]]
    assert [int(r["step"]) for r in rows] == h.step_index.tolist()
    ds.runs.report(store, [1], tmp_path / "r.html")

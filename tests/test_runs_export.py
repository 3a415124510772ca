"""Exports read back by the tools themselves: TensorBoard's EventAccumulator, csv, PyYAML."""

import csv

import numpy as np
import pytest
import yaml

import descend as ds
from descend.errors import StoreError


@pytest.fixture
def store(tmp_path):
    store = ds.runs.Store(tmp_path / "runs")
    rng = np.random.default_rng(1)
    X = rng.normal(size=(90, 2))
    obj = ds.LinearRegression(X, X @ [2.0, -1.0] + 0.3, bias=True)
    ds.minimize(obj, np.zeros(3), optimizer=ds.optim.Adam(lr=0.05, eps=1e-5), batch_size=16, epochs=6, seed=2,
                tol=1e-12, callbacks=[store.recorder(name="adam run")], backend="numpy")
    lecture = ds.LinearRegression(*ds.datasets.lecture(), bias=False)
    ds.minimize(lecture, [1.0], optimizer=ds.optim.SGD(lr=0.2), epochs=50, callbacks=[store.recorder(name="gd")])
    return store


def _accumulator(path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(path), size_guidance={"scalars": 0})  # 0: keep every point
    acc.Reload()
    return acc


def test_tensorboard_export_reads_back(store, tmp_path):
    from tensorboard.plugins.hparams import plugin_data_pb2

    paths = store.export_tensorboard([1, 2], tmp_path / "tb")
    assert [p.name for p in paths] == ["run-1-adam-run", "run-2-gd"]
    for rid, path in zip([1, 2], paths):
        res = store.load(rid)
        h = res.history
        acc = _accumulator(path)
        scalars = set(acc.Tags()["scalars"])
        assert {"epoch/loss", "epoch/time", "step/loss", "step/grad_norm", "step/lr"} <= scalars
        ev = acc.Scalars("epoch/loss")
        assert [e.step for e in ev] == list(range(len(h)))
        np.testing.assert_allclose([e.value for e in ev], h.epoch_loss.astype(np.float32), rtol=0)  # float32
        ev = acc.Scalars("step/loss")
        assert [e.step for e in ev] == list(range(1, len(h.step_loss) + 1))
        np.testing.assert_allclose([e.value for e in ev], h.step_loss.astype(np.float32), rtol=0)
        lr = acc.Scalars("step/lr")
        finite = np.isfinite(h.lr)
        np.testing.assert_allclose([e.value for e in lr], h.lr[finite].astype(np.float32), rtol=0)
        content = acc.PluginTagToContent("hparams")
        start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
        hp = start.session_start_info.hparams
        assert hp["run_id"].number_value == rid
        if rid == 1:
            assert hp["batch_size"].number_value == 16
        else:
            assert hp["batch_size"].string_value == "none"  # full batch
    acc = _accumulator(paths[0])
    assert {e.step for e in acc.Scalars("epoch/grad_norm")} == set(range(7))  # tol: evaluated at every boundary
    start = plugin_data_pb2.HParamsPluginData.FromString(
        acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]).session_start_info.hparams
    assert start["optimizer.name"].string_value == "adam"
    assert start["optimizer.params.eps"].number_value == 1e-5
    assert start["data.rows"].number_value == 90


def test_csv_export_is_lightnings_layout_and_exact(store, tmp_path):
    paths = store.export_csv([1, 2], tmp_path / "csv")
    for rid, path in zip([1, 2], paths):
        res = store.load(rid)
        h = res.history
        assert sorted(p.name for p in path.iterdir()) == ["hparams.yaml", "metrics.csv"]
        with open(path / "metrics.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        assert list(rows[0])[:2] == ["epoch", "step"]
        steps = [r for r in rows if r["loss"] != ""]
        bounds = [r for r in rows if r["epoch_loss"] != ""]
        assert len(steps) + len(bounds) == len(rows)
        np.testing.assert_array_equal([float(r["loss"]) for r in steps], h.step_loss)  # repr: exact
        np.testing.assert_array_equal([float(r["grad_norm"]) for r in steps], h.grad_norm)
        np.testing.assert_array_equal([int(r["step"]) for r in steps], np.arange(1, len(h.step_loss) + 1))
        np.testing.assert_array_equal([int(r["epoch"]) for r in steps], h.step_epoch)
        np.testing.assert_array_equal([float(r["epoch_loss"]) for r in bounds], h.epoch_loss)
        np.testing.assert_array_equal([int(r["step"]) for r in bounds], h.epoch_step)
        # rows are in time order: every step row comes after the boundary that opens its epoch
        order = [(int(r["epoch"]), 0 if r["epoch_loss"] else 1, int(r["step"])) for r in rows]
        assert order == sorted(order)
        hp = yaml.safe_load((path / "hparams.yaml").read_text())
        assert hp["run_id"] == rid and hp["status"] == res.status and hp["message"] == res.message
        assert hp["optimizer"] == res.config["optimizer"] and hp["data"] == res.config["data"]
        assert hp["batch_size"] == res.config["batch_size"]
    hp = yaml.safe_load((paths[0] / "hparams.yaml").read_text())
    assert hp["optimizer"]["params"]["eps"] == 1e-5 and isinstance(hp["optimizer"]["params"]["eps"], float)
    assert hp["optimizer"]["params"]["betas"] == [0.9, 0.999]
    with open(paths[1] / "metrics.csv", newline="") as f:
        first = next(csv.DictReader(f))
    gn = store.load(2).history.epoch_grad_norm[0]
    assert first["epoch_grad_norm"] == ("" if np.isnan(gn) else repr(float(gn)))  # not evaluated: empty
    assert float(first["epoch_loss"]) == 7.5


def test_export_checks_every_id_before_writing(store, tmp_path):
    with pytest.raises(StoreError, match="no run with id 9"):
        store.export_csv([1, 9], tmp_path / "csv")
    with pytest.raises(StoreError, match="no run with id 9"):
        store.export_tensorboard([9], tmp_path / "tb")
    assert not (tmp_path / "csv").exists() and not (tmp_path / "tb").exists()
    (tmp_path / "afile").write_text("x")
    with pytest.raises(StoreError, match="afile: is a file; give a folder for the CSV export"):
        store.export_csv([1], tmp_path / "afile")

"""The run store: record, load back, list, delete, resume, SIGKILL, concurrency, bad input."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

import descend as ds
from descend.errors import ParameterError, StoreError
from descend.runs import store as store_mod

ROOT = Path(__file__).resolve().parents[1]


def problem(n=240, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X @ np.arange(1.0, d + 1) + 0.5 + 0.1 * rng.normal(size=n)
    return ds.LinearRegression(X, y, bias=True)


def adam_step():
    return ds.optim.Adam(lr=ds.schedules.step(0.05, step_size=7, gamma=0.5), eps=1e-5)


def fit(obj, epochs, callbacks=(), resume=None, optimizer=None):
    return ds.minimize(obj, np.zeros(obj.n_params), optimizer=optimizer or adam_step(), batch_size=32,
                       epochs=epochs, seed=3, callbacks=callbacks, resume=resume, backend="numpy")


def test_recorded_run_reads_back_exactly(tmp_path):
    obj = problem()
    store = ds.runs.Store(tmp_path / "runs")
    assert not (tmp_path / "runs").exists()  # nothing is created before first use
    res = fit(obj, 12, callbacks=[store.recorder(name="exp1")])
    [info] = store.list()
    assert (info.name, info.kind, info.status, info.epochs, info.steps) == ("exp1", "fit", res.status, 12, res.steps)
    back = store.load(info.id)
    assert isinstance(back, ds.Result)
    for attr in ("epoch_loss", "epoch_grad_norm", "w", "epoch_step", "epoch_samples", "epoch_time", "step_loss",
                 "grad_norm", "lr", "step_epoch"):
        np.testing.assert_array_equal(getattr(back.history, attr), getattr(res.history, attr), err_msg=attr)
    np.testing.assert_array_equal(back.w, res.w)
    assert (back.loss, back.status, back.verdict, back.message, back.epochs, back.steps, back.batch_size, back.seed) \
        == (res.loss, res.status, res.verdict, res.message, res.epochs, res.steps, res.batch_size, res.seed)
    assert back.checkpoint == res.checkpoint
    # the configuration: objective, data fingerprint, optimizer and its schedule, loop settings
    cfg = back.config
    assert cfg["objective"] == {"kind": "LinearRegression", "n_params": 4, "n_samples": 240, "bias": True}
    assert cfg["data"]["rows"] == 240 and cfg["data"]["fingerprint_of"] == "all rows"
    assert cfg["data"]["fingerprint"] == ds.runs.recorder.fingerprint(obj.X, obj.y)["fingerprint"]
    assert (cfg["batch_size"], cfg["seed"], cfg["epochs"], cfg["shuffle"], cfg["backend"]) == (32, 3, 12, True, "numpy")
    assert cfg["descend_version"] == ds.__version__
    # the optimizer comes back as it was: same class, hyper-parameters and learning rate at every step
    assert repr(back.optimizer) == repr(res.optimizer)
    np.testing.assert_array_equal([back.optimizer.schedule(k) for k in range(100)],
                                  [res.optimizer.schedule(k) for k in range(100)])
    # best weights: those of the lowest epoch-boundary loss
    k = int(np.argmin(res.history.epoch_loss))
    np.testing.assert_array_equal(back.best_w, res.history.w[k])
    assert back.best_epoch == k


def test_loaded_history_plots_with_the_existing_functions(tmp_path):
    store = ds.runs.Store(tmp_path)
    res = fit(problem(), 8, callbacks=[store.recorder(name="plotme")])
    back = store.load(1)
    fig = ds.plot.loss_curve([back], smooth=0)
    [line] = [ln for ln in fig.axes[0].get_lines() if len(ln.get_ydata()) > 1]
    np.testing.assert_array_equal(line.get_ydata(), res.history.epoch_loss)
    fig = ds.plot.loss_curve(back, per="step", smooth=0.6)
    raw = fig.axes[0].get_lines()[0]
    np.testing.assert_array_equal(raw.get_ydata(), res.history.step_loss)


def test_fingerprint_samples_rows_of_large_data_and_sees_a_change():
    from descend.runs.recorder import fingerprint

    X = np.arange(3_000_000, dtype=np.float64).reshape(-1, 6)  # 24 MB: sampled
    y = np.zeros(len(X))
    a = fingerprint(X, y)
    assert a["fingerprint_of"] == "4096 evenly spaced rows of 500000"
    X2 = X.copy()
    X2[-1, 0] += 1  # the last row is always sampled
    assert fingerprint(X2, y)["fingerprint"] != a["fingerprint"]
    assert fingerprint(X.astype(np.float32), y)["fingerprint"] != a["fingerprint"]  # dtype counts
    small = fingerprint(X[:10], y[:10])
    assert small["fingerprint_of"] == "all rows"


def test_resume_from_the_store_is_bit_identical(tmp_path):
    obj = problem()
    whole = fit(obj, 30)
    store = ds.runs.Store(tmp_path)
    first = fit(obj, 12, callbacks=[store.recorder(name="half")])
    assert first.epochs == 12
    stored = store.load(1)
    resumed = fit(obj, 30, resume=stored.checkpoint, callbacks=[store.recorder(resume=1)])
    np.testing.assert_array_equal(resumed.w, whole.w)
    back = store.load(1)  # one run, epochs 0..30, as if never stopped
    assert (back.status, back.epochs, back.steps) == (whole.status, 30, whole.steps)
    for attr in ("epoch_loss", "w", "epoch_step", "epoch_samples", "step_loss", "grad_norm", "lr", "step_epoch"):
        np.testing.assert_array_equal(getattr(back.history, attr), getattr(whole.history, attr), err_msg=attr)
    assert back.config["resumed"][0]["from_epoch"] == 12 and back.config["epochs"] == 30
    np.testing.assert_array_equal(back.w, whole.w)
    assert back.checkpoint == whole.checkpoint


def test_resume_refuses_other_data(tmp_path):
    store = ds.runs.Store(tmp_path)
    fit(problem(seed=0), 4, callbacks=[store.recorder()])
    ckpt = store.load(1).checkpoint
    with pytest.raises(StoreError, match="run 1 was recorded on other data"):
        fit(problem(seed=1), 8, resume=ckpt, callbacks=[store.recorder(resume=1)])


def test_list_filters_and_delete(tmp_path):
    store = ds.runs.Store(tmp_path)
    obj = ds.LinearRegression(*ds.datasets.lecture(), bias=False)
    for name, lr in [("exp-a", 0.01), ("exp-b", 0.2), ("other", 0.01)]:
        ds.minimize(obj, [1.0], optimizer=ds.optim.SGD(lr=lr), epochs=20, callbacks=[store.recorder(name=name)])
    assert [r.name for r in store.list()] == ["other", "exp-b", "exp-a"]  # newest first
    assert [r.name for r in store.list(name="exp*")] == ["exp-b", "exp-a"]
    assert [r.name for r in store.list(status="diverged")] == ["exp-b"]  # lr 0.2 > 2/15
    assert [r.name for r in store.list(status="max_epochs,diverged", name="exp-?")] == ["exp-b", "exp-a"]
    now = datetime.now(timezone.utc)
    assert len(store.list(since=now - timedelta(hours=1))) == 3
    assert store.list(since=now + timedelta(hours=1)) == []
    assert store.list(until=(now - timedelta(days=1)).date().isoformat()) == []
    with pytest.raises(ParameterError, match="since must be a date or time"):
        store.list(since="yesterday")
    store.delete(2)
    assert [r.id for r in store.list()] == [3, 1]
    with pytest.raises(StoreError, match="no run with id 2"):
        store.load(2)
    with sqlite3.connect(store.path) as db:  # its records went with it
        assert db.execute("SELECT count(*) FROM epochs WHERE run_id = 2").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM steps WHERE run_id = 2").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM epochs WHERE run_id = 1").fetchone() == (21,)


def test_a_diverged_run_keeps_its_records(tmp_path):
    store = ds.runs.Store(tmp_path)
    obj = ds.LinearRegression(*ds.datasets.lecture(), bias=False)
    res = ds.minimize(obj, [1.0], optimizer=ds.optim.SGD(lr=0.2), epochs=100, callbacks=[store.recorder()])
    back = store.load(1)
    assert back.status == "diverged" == res.status and back.message == res.message
    np.testing.assert_array_equal(back.history.epoch_loss, res.history.epoch_loss)  # the stopping boundary too
    np.testing.assert_array_equal(back.w, res.w)  # the best weights seen, as minimize returns


# ------------------------------------------------------------------------------ SIGKILL


CHILD = """
import sys, time
import numpy as np
import descend as ds
sys.path.insert(0, {tests!r})
from test_runs_store import problem, adam_step

class Slow(ds.monitors.Monitor):
    def on_epoch(self, run):
        time.sleep(0.15)

store = ds.runs.Store({folder!r})
obj = problem()
ds.minimize(obj, np.zeros(obj.n_params), optimizer=adam_step(), batch_size=32, epochs=1000, seed=3,
            callbacks=[store.recorder(name="doomed"), Slow()], backend="numpy")
"""


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_a_run_killed_by_sigkill_keeps_every_completed_epoch(tmp_path):
    folder = tmp_path / "runs"
    code = CHILD.format(tests=str(ROOT / "tests"), folder=str(folder))
    child = subprocess.Popen([sys.executable, "-c", code], env=_env(), stderr=subprocess.PIPE)
    store = ds.runs.Store(folder)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            runs = store.list() if store.path.exists() else []
            if runs and runs[0].epochs >= 4:
                break
            assert child.poll() is None, child.communicate()[1].decode()
            time.sleep(0.05)
        else:
            pytest.fail("the child recorded no 4 epochs in 60 s")
        assert store.info(1).status == "running"  # alive: holding its lock, not reaped
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.communicate()
    assert child.returncode == -signal.SIGKILL
    back = store.load(1)
    assert back.status == "interrupted"
    assert "the process recording this run ended before it finished" in back.message
    e = back.epochs
    assert e >= 4 and len(back.history) == e + 1
    # every committed epoch equals the uninterrupted run's, and the checkpoint resumes it exactly
    obj = problem()
    whole = fit(obj, e + 5)
    np.testing.assert_array_equal(back.history.epoch_loss, whole.history.epoch_loss[: e + 1])
    np.testing.assert_array_equal(back.history.step_loss, whole.history.step_loss[: len(back.history.step_loss)])
    assert back.checkpoint["epoch"] == e
    assert set(back.checkpoint) == set(whole.checkpoint)  # the loop's own checkpoint, taken at that boundary
    resumed = fit(obj, e + 5, resume=back.checkpoint, callbacks=[store.recorder(resume=1)])
    np.testing.assert_array_equal(resumed.w, whole.w)
    done = store.load(1)
    assert done.status == whole.status and done.epochs == e + 5
    np.testing.assert_array_equal(done.history.epoch_loss, whole.history.epoch_loss)
    assert not any((folder / "locks").iterdir())  # the dead run's lock file was cleaned up


# --------------------------------------------------------------------------- concurrency


WRITER = """
import sys
import descend as ds
store = ds.runs.Store({folder!r})
obj = ds.LinearRegression(*ds.datasets.lecture(), bias=False)
for i in range(100):
    ds.minimize(obj, [1.0], optimizer=ds.optim.SGD(lr=0.01), batch_size=2, epochs=3, seed=i,
                callbacks=[store.recorder(name=f"p{{sys.argv[1]}}-{{i}}")])
"""


def test_four_processes_recording_at_once_lose_nothing(tmp_path):
    folder = tmp_path / "shared"
    code = WRITER.format(folder=str(folder))
    procs = [subprocess.Popen([sys.executable, "-c", code, str(p)], env=_env(), stderr=subprocess.PIPE)
             for p in range(4)]
    errors = [p.communicate(timeout=300)[1].decode() for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    store = ds.runs.Store(folder)
    runs = store.list()
    assert len(runs) == 400
    assert sorted(r.name for r in runs) == sorted(f"p{p}-{i}" for p in range(4) for i in range(100))
    assert {r.status for r in runs} == {"max_epochs"} and {r.epochs for r in runs} == {3}
    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT count(*) FROM epochs").fetchone() == (400 * 4,)
        assert db.execute("SELECT count(*) FROM steps").fetchone() == (400 * 3,)
    # each run's records are its own: run p-i equals the same fit made here
    obj = ds.LinearRegression(*ds.datasets.lecture(), bias=False)
    for r in [runs[0], runs[-1], runs[137]]:
        i = int(r.name.split("-")[1])
        ref = ds.minimize(obj, [1.0], optimizer=ds.optim.SGD(lr=0.01), batch_size=2, epochs=3, seed=i)
        np.testing.assert_array_equal(store.load(r.id).history.step_loss, ref.history.step_loss)


# ------------------------------------------------------------------------------ bad input


def _bytes(path):
    return Path(path).read_bytes()


def test_a_store_folder_that_is_a_file(tmp_path):
    f = tmp_path / "runs"
    f.write_text("not a folder")
    store = ds.runs.Store(f)
    with pytest.raises(StoreError, match=r"runs: is a file, not a run store folder; give another folder"):
        store.list()
    with pytest.raises(StoreError, match="is a file"):
        fit(problem(), 2, callbacks=[store.recorder()])
    assert f.read_text() == "not a folder"


def test_a_file_that_is_not_a_database(tmp_path):
    (tmp_path / "runs.sqlite").write_bytes(b"hello, this is a text file and not SQLite at all" * 50)
    before = _bytes(tmp_path / "runs.sqlite")
    store = ds.runs.Store(tmp_path)
    with pytest.raises(StoreError, match=r"runs.sqlite: is not a SQLite database .*nothing was changed"):
        store.list()
    with pytest.raises(StoreError, match="is not a SQLite database"):
        fit(problem(), 2, callbacks=[store.recorder()])
    assert _bytes(tmp_path / "runs.sqlite") == before


def test_a_damaged_database(tmp_path):
    store = ds.runs.Store(tmp_path)
    for _ in range(3):
        fit(problem(), 30, callbacks=[store.recorder()])
    assert not (tmp_path / "runs.sqlite-wal").exists() or (tmp_path / "runs.sqlite-wal").stat().st_size == 0
    data = bytearray(_bytes(store.path))
    page = 4096
    assert len(data) > 4 * page
    data[page:len(data)] = bytes([0xA5]) * (len(data) - page)  # every page after the header page: garbage
    store.path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=r"runs.sqlite: the run store database is damaged \(.*\); nothing was "
                                         r"changed"):
        store.list()
    with pytest.raises(StoreError, match="damaged"):
        store.load(1)
    assert _bytes(store.path) == bytes(data)


def test_a_configuration_that_is_not_json(tmp_path):
    store = ds.runs.Store(tmp_path)
    with pytest.raises(ParameterError, match="a object in it cannot be stored"):
        fit(problem(), 2, callbacks=[store.recorder(config={"note": object()})])
    assert store.list() == []  # nothing half-written
    assert not any((tmp_path / "locks").iterdir())  # and its lock freed at once


def test_an_unknown_id_and_a_bad_id(tmp_path):
    store = ds.runs.Store(tmp_path)
    with pytest.raises(StoreError, match="no run with id 7"):
        store.load(7)  # no store yet: nothing is created either
    assert not store.path.exists()
    fit(problem(), 2, callbacks=[store.recorder()])
    with pytest.raises(StoreError, match=r"runs.sqlite: no run with id 7; `descend runs list"):
        store.load(7)
    with pytest.raises(StoreError, match="no run with id 7"):
        store.delete(7)
    with pytest.raises(StoreError, match="no run with id 7"):
        fit(problem(), 4, callbacks=[store.recorder(resume=7)])
    with pytest.raises(ParameterError, match="a run id is a whole number such as 7"):
        store.load("seven")


def test_a_newer_schema_is_refused_and_left_alone(tmp_path):
    store = ds.runs.Store(tmp_path)
    fit(problem(), 2, callbacks=[store.recorder()])
    with sqlite3.connect(store.path) as db:
        db.execute(f"PRAGMA user_version = {store_mod.SCHEMA_VERSION + 5}")
    before = _bytes(store.path)
    for call in (store.list, lambda: store.load(1), lambda: fit(problem(), 2, callbacks=[store.recorder()])):
        with pytest.raises(StoreError, match=rf"schema version {store_mod.SCHEMA_VERSION + 5}, newer than this "
                                             rf"descend understands \({store_mod.SCHEMA_VERSION}\); upgrade descend"):
            call()
    assert _bytes(store.path) == before


def test_another_sqlite_database_is_not_taken_over(tmp_path):
    with sqlite3.connect(tmp_path / "runs.sqlite") as db:
        db.execute("CREATE TABLE mine (x)")
    before = _bytes(tmp_path / "runs.sqlite")
    with pytest.raises(StoreError, match="is a SQLite database but not a descend run store"):
        ds.runs.Store(tmp_path).list()
    assert _bytes(tmp_path / "runs.sqlite") == before


def test_migration_from_schema_version_1(tmp_path):
    """A version-1 store (no buckets table) written by hand is migrated on open and reads back."""
    path = tmp_path / "runs.sqlite"
    conn = store_mod.Connection(path)
    store_mod.migrate(conn, upto=1)
    assert conn.db.execute("PRAGMA user_version").fetchone() == (1,)
    w = np.array([1.5, -2.0])
    with conn.db:
        conn.db.execute("INSERT INTO runs (name, kind, created, status, config, epochs, steps, loss, w) "
                        "VALUES ('old', 'fit', 0, 'max_epochs', '{\"batch_size\": 2, \"seed\": 0}', 1, 2, 0.5, ?)",
                        (store_mod.pack(w),))
        for e, loss in [(0, 2.0), (1, 0.5)]:
            conn.db.execute("INSERT INTO epochs VALUES (1, ?, ?, NULL, 0.0, ?, ?, ?)",
                            (e, loss, 2 * e, 4 * e, store_mod.pack(w * e)))
        conn.db.execute("INSERT INTO steps VALUES (1, 0, 0, 2, ?)",
                        (store_mod.pack([[1.0, 0.75], [3.0, 2.0], [0.1, 0.1]]),))
    conn.close()
    back = ds.runs.Store(tmp_path).load(1)
    np.testing.assert_array_equal(back.history.epoch_loss, [2.0, 0.5])
    assert np.isnan(back.history.epoch_grad_norm).all()  # NULL in SQLite: not evaluated
    np.testing.assert_array_equal(back.history.step_loss, [1.0, 0.75])
    np.testing.assert_array_equal(back.history.lr, [0.1, 0.1])
    np.testing.assert_array_equal(back.w, w)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (store_mod.SCHEMA_VERSION,)
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'buckets'").fetchone() == ("buckets",)

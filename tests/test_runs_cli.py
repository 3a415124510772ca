"""The run store from the shell: --record, fit --resume, runs list/show/rm/export, report."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

import descend as ds
from descend.cli import main
from test_cli import assert_one_error_line


@pytest.fixture
def run_cli(capsys, monkeypatch):
    """`descend ARGS` in this process (fast; the CLI itself is tested in subprocesses in test_cli.py)."""
    def run(*args, cwd=None):
        if cwd is not None:
            monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out, stderr=err)

    return run


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((150, 2))
    y = 1.5 * X[:, 0] - 0.5 * X[:, 1] + 0.25 + 0.3 * rng.standard_normal(150)
    p = tmp_path / "data.csv"
    p.write_text("\n".join(["a,b,y"] + [f"{a!r},{b!r},{c!r}" for (a, b), c in zip(X.tolist(), y.tolist())]) + "\n")
    return p


FIT = ["--target", "y", "--batch-size", "16", "--optimizer", "momentum", "--lr", "0.02", "--seed", "5"]


def ok(proc):
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    return proc


def test_record_resume_list_show_export_report_rm(run_cli, data, tmp_path):
    runs = tmp_path / "store"
    whole = json.loads(ok(run_cli("fit", data, *FIT, "--epochs", "20", "--json")).stdout)
    half = ok(run_cli("fit", data, *FIT, "--epochs", "8", "--record", "--name", "half", "--runs", runs, "--quiet"))
    assert half.stderr.strip() == f"recorded run 1 in {runs}"
    # continue it from another folder: the run keeps the data file's absolute path and its settings
    resumed = ok(run_cli("fit", "--resume", "1", "--epochs", "20", "--runs", runs, "--json", cwd=tmp_path.parent))
    assert resumed.stderr.strip() == f"continued run 1 in {runs}"
    out = json.loads(resumed.stdout)
    assert out["weights"] == whole["weights"]  # bit for bit: JSON floats round-trip exactly
    assert out["epoch_loss"] == whole["epoch_loss"][8:]
    listed = json.loads(ok(run_cli("runs", "list", "--runs", runs, "--json")).stdout)
    assert [(r["id"], r["name"], r["kind"], r["status"], r["epochs"]) for r in listed] == \
        [(1, "half", "fit", whole["status"], 20)]
    shown = json.loads(ok(run_cli("runs", "show", "1", "--runs", runs, "--json")).stdout)
    assert shown["epoch_loss"] == whole["epoch_loss"] and shown["message"] == out["message"]
    assert shown["config"]["cli"]["args"]["target"] == "y" and shown["config"]["batch_size"] == 16
    text = ok(run_cli("runs", "show", "1", "--runs", runs)).stdout
    assert "run 1 (half): fit, status max_epochs" in text and "optimizer.params.momentum" in text
    exported = ok(run_cli("runs", "export", "1", "--runs", runs, "--csv", tmp_path / "csv", "--tensorboard",
                          tmp_path / "tb")).stdout
    assert f"wrote {tmp_path / 'csv' / 'run-1-half'}" in exported
    assert (tmp_path / "csv" / "run-1-half" / "metrics.csv").exists()
    assert list((tmp_path / "tb" / "run-1-half").glob("events.out.tfevents.*"))
    report = tmp_path / "report.html"
    assert ok(run_cli("report", "1", "--runs", runs, "--out", report)).stdout.strip() == f"wrote {report}"
    assert report.read_text().count("data:image/png;base64,") == 3
    assert ok(run_cli("runs", "rm", "1", "--runs", runs)).stdout.strip() == f"removed run 1 from {runs}"
    assert json.loads(ok(run_cli("runs", "list", "--runs", runs, "--json")).stdout) == []


def test_record_on_compare_and_lr_find(run_cli, data, tmp_path):
    runs = tmp_path / "store"
    ok(run_cli("compare", data, "--target", "y", "--batch-sizes", "16,full", "--epochs", "3", "--record",
               "--runs", runs, "--name", "cmp"))
    lr = json.loads(ok(run_cli("lr-find", data, "--target", "y", "--record", "--runs", runs, "--json")).stdout)
    store = ds.runs.Store(runs)
    infos = store.list()
    assert [(r.id, r.kind, r.name) for r in infos] == [(3, "lr-find", ""), (2, "compare", "cmp"), (1, "compare", "cmp")]
    found = store.load(3)
    np.testing.assert_array_equal(found.history.lr, lr["lrs"])
    np.testing.assert_array_equal(found.history.step_loss, [np.nan if v is None else v for v in lr["losses"]])
    assert found.config["lr_find"]["suggestion"] == lr["suggestion"] and found.message == lr["message"]
    gd = store.load(2)
    assert gd.batch_size is None and gd.epochs == 3 and len(gd.history) == 4
    assert gd.config["data"]["rows"] == 150 and gd.config["objective"]["bias"] is True


def test_store_errors_are_one_line(run_cli, data, tmp_path):
    runs = tmp_path / "store"
    assert_one_error_line(run_cli("runs", "show", "9", "--runs", runs), 1)
    afile = tmp_path / "afile"
    afile.write_text("x")
    p = run_cli("runs", "list", "--runs", afile)
    assert_one_error_line(p, 1)
    assert "afile: is a file, not a run store folder" in p.stderr
    ok(run_cli("fit", data, *FIT, "--epochs", "4", "--record", "--runs", runs, "--quiet"))
    p = run_cli("fit", "--resume", "1", "--epochs", "9", "--lr", "0.5", "--runs", runs)
    assert_one_error_line(p, 2)
    assert "--lr 0.5 differs from its 0.02" in p.stderr
    p = run_cli("fit", "--resume", "1", "--epochs", "9", "--runs", runs, tmp_path / "other.csv")
    assert_one_error_line(p, 2)
    assert "DATA" in p.stderr and "differs from its" in p.stderr
    assert ok(run_cli("fit", data.name, "--resume", "1", "--epochs", "5", "--runs", runs, cwd=data.parent))
    p = run_cli("fit", "--resume", "1", "--epochs", "5", "--runs", runs)
    assert_one_error_line(p, 2)
    assert "run 1 already has 5 epochs" in p.stderr
    assert_one_error_line(run_cli("fit", "--epochs", "3"), 2)
    assert_one_error_line(run_cli("runs", "export", "1", "--runs", runs), 2)
    assert_one_error_line(run_cli("runs", "show", "first", "--runs", runs), 2)
    p = run_cli("report", "1", "7", "--runs", runs, "--out", tmp_path / "r.html")
    assert_one_error_line(p, 1)
    assert "no run with id 7" in p.stderr and not (tmp_path / "r.html").exists()

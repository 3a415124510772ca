"""CLI: `descend fit` with --optimizer/--schedule/--model, and `descend lr-find` (subprocess)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import descend as ds
from descend import optim, schedules

from conftest import run_cli


@pytest.fixture
def lecture_csv(tmp_path):
    path = tmp_path / "lecture.csv"
    path.write_text("x,y\n1,2\n2,4\n3,6\n4,8\n")
    return path


@pytest.fixture
def binary_csv(tmp_path):
    X, y = ds.datasets.classification(n=60, d=2, seed=1)
    path = tmp_path / "binary.csv"
    rows = "\n".join(f"{float(a)!r},{float(b)!r},{int(c)}" for (a, b), c in zip(X, y))
    path.write_text("a,b,label\n" + rows + "\n")
    return path, X, y


def _ok_json(*args):
    out = run_cli(*args, "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _one_error(out, code, *words):
    assert out.returncode == code, (out.returncode, out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    assert "Traceback" not in out.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_lr_find_on_the_lecture(lecture_csv, tmp_path):
    js = _ok_json("lr-find", lecture_csv, "--target", "y", "--no-bias")
    assert js["stable_lr"] == pytest.approx(2 / 15, rel=1e-12)
    assert 0 < js["suggestion"] < 2 / 15 and js["stopped_early"]
    X, y = ds.datasets.lecture()
    lib = ds.lr_find(ds.LinearRegression(X, y, bias=False), [0.0])
    assert js["suggestion"] == pytest.approx(lib.suggestion, rel=1e-9)
    png = tmp_path / "lr.png"
    out = run_cli("lr-find", lecture_csv, "--target", "y", "--no-bias", "--optimizer", "adam", "--plot", png)
    assert out.returncode == 0, out.stderr
    assert "stable 2/lambda_max" in out.stdout and "0.1333" in out.stdout and "adam" in out.stdout
    assert png.stat().st_size > 1000


@pytest.mark.parametrize(("cli_args", "make"), [
    (["--optimizer", "nesterov", "--lr", "0.01"], lambda: optim.SGD(lr=0.01, momentum=0.9, nesterov=True)),
    (["--optimizer", "adam", "--lr", "0.1", "--beta1", "0.8", "--eps", "1e-6"],
     lambda: optim.Adam(lr=0.1, betas=(0.8, 0.999), eps=1e-6)),
    (["--optimizer", "rmsprop", "--lr", "0.01", "--momentum", "0.5", "--schedule", "step", "--step-size", "20",
      "--gamma", "0.5"], lambda: optim.RMSprop(lr=schedules.step(0.01, 20, 0.5), momentum=0.5)),
    (["--optimizer", "adamw", "--lr", "0.1", "--weight-decay", "0.05", "--schedule", "cosine", "--t-max", "50",
      "--lr-min", "0.001", "--warmup-steps", "5"],
     lambda: optim.AdamW(lr=schedules.warmup(schedules.cosine(0.1, 50, 0.001), 5), weight_decay=0.05)),
    (["--optimizer", "sgd", "--lr", "0.02", "--schedule", "invscaling", "--power-t", "0.5"],
     lambda: optim.SGD(lr=schedules.inverse_scaling(0.02, 0.5))),
])
def test_fit_with_optimizer_and_schedule_equals_the_library(lecture_csv, cli_args, make):
    js = _ok_json("fit", lecture_csv, "--target", "y", "--no-bias", "--epochs", "60", *cli_args)
    X, y = ds.datasets.lecture()
    lib = ds.minimize(ds.LinearRegression(X, y, bias=False), [0.0], optimizer=make(), epochs=60)
    assert js["weights"]["x"] == pytest.approx(lib.w[0], rel=1e-12)
    np.testing.assert_allclose(js["epoch_loss"], lib.history.epoch_loss, rtol=1e-12)


def test_fit_logistic(binary_csv):
    path, X, y = binary_csv
    js = _ok_json("fit", path, "--target", "label", "--model", "logistic", "--optimizer", "adam", "--lr", "0.1",
                  "--epochs", "50")
    lib = ds.minimize(ds.LogisticRegression(X, y), np.zeros(3), optimizer=optim.Adam(lr=0.1), epochs=50)
    assert js["loss"] == pytest.approx(lib.loss, rel=1e-9)
    assert set(js["weights"]) == {"a", "b", "bias"}


@pytest.mark.parametrize(("args", "code", "words"), [
    (["fit", "{csv}", "--target", "y", "--model", "logistic"], 1, ["row 1, column 'y' is 2", "0 and 1, -1 and 1"]),
    (["fit", "{csv}", "--target", "y", "--optimizer", "adam", "--momentum", "0.9"], 2, ["adam", "no momentum"]),
    (["fit", "{csv}", "--target", "y", "--optimizer", "sgd", "--beta2", "0.9"], 2, ["no betas"]),
    (["fit", "{csv}", "--target", "y", "--optimizer", "adam", "--beta1", "1.5"], 2, ["--beta1", "[0, 1)"]),
    (["fit", "{csv}", "--target", "y", "--optimizer", "nesterov", "--momentum", "0"], 2, ["momentum > 0"]),
    (["fit", "{csv}", "--target", "y", "--schedule", "step"], 2, ["step_size"]),
    (["fit", "{csv}", "--target", "y", "--gamma", "0.5"], 2, ["constant schedule", "gamma"]),
    (["fit", "{csv}", "--target", "y", "--optimizer", "lbfgs"], 2, ["--optimizer"]),
    (["lr-find", "{csv}", "--target", "y", "--start", "0"], 2, ["start"]),
    (["lr-find", "{csv}", "--target", "y", "--end", "1e-9"], 2, ["end"]),
])
def test_errors_are_one_line(lecture_csv, args, code, words):
    _one_error(run_cli(*[a.format(csv=lecture_csv) for a in args]), code, *words)

"""The command line end to end, in subprocesses, as a user runs it."""

import json

import numpy as np
import pytest

from conftest import run_cli

PNG = b"\x89PNG\r\n\x1a\n"


def assert_one_error_line(proc, code):
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_demo_writes_pngs_and_prints_the_table(tmp_path):
    proc = run_cli("demo", "--out", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    for word in ("brute force", "GD (full batch)", "SGD (1 row)", "mini-batch (2 rows)", "diverged", "max_epochs"):
        assert word in proc.stdout
    pngs = sorted((tmp_path / "out").glob("*.png"))
    assert len(pngs) >= 4
    for p in pngs:
        assert p.read_bytes()[:8] == PNG and str(p) in proc.stdout


@pytest.fixture
def csv_file(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 2))
    y = 3.0 * X[:, 0] - 2.0 * X[:, 1] + 0.5 + 0.01 * rng.standard_normal(300)
    p = tmp_path / "data.csv"
    lines = ["height,weight,price"] + [f"{a:.10f},{b:.10f},{c:.10f}" for (a, b), c in zip(X, y)]
    p.write_text("\n".join(lines) + "\n")
    return p


def test_fit_recovers_the_coefficients(csv_file, tmp_path):
    proc = run_cli("fit", csv_file, "--target", "price", "--lr", "0.1", "--epochs", "200", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["weights"]["height"] == pytest.approx(3.0, abs=0.01)
    assert out["weights"]["weight"] == pytest.approx(-2.0, abs=0.01)
    assert out["weights"]["bias"] == pytest.approx(0.5, abs=0.01)
    assert out["status"] == "max_epochs"
    plot = tmp_path / "curve.png"
    proc = run_cli("fit", csv_file, "--target", "price", "--batch-size", "16", "--epochs", "20", "--plot", plot)
    assert proc.returncode == 0, proc.stderr
    assert "height" in proc.stdout and "status" in proc.stdout
    assert plot.read_bytes()[:8] == PNG


def write(tmp_path, text, name="bad.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("case, code, needle", [
    ("missing", 1, "no such file"),
    ("directory", 1, "directory"),
    ("binary", 1, "cannot be read"),
    ("unknown_column", 2, "no column named 'nope'"),
    ("non_numeric", 1, "row 2, column 'a'"),
    ("empty_cell", 1, "row 3, column 'b' is empty"),
    ("nan", 1, "row 1, column 'y'"),
    ("one_row", 1, "at least 2 data rows"),
    ("lr_zero", 2, "--lr"),
    ("batch_zero", 2, "--batch-size"),
    ("batch_too_big", 2, "--batch-size 99"),
    ("epochs_zero", 2, "--epochs"),
    ("no_target", 2, "--target"),
])
def test_fit_errors(tmp_path, case, code, needle):
    good = write(tmp_path, "a,b,y\n1,2,3\n2,3,5\n3,4,7\n", "good.csv")
    args = {
        "missing": [tmp_path / "nope.csv", "--target", "y"],
        "directory": [tmp_path, "--target", "y"],
        "binary": [tmp_path / "bin.csv", "--target", "y"],
        "unknown_column": [good, "--target", "nope"],
        "non_numeric": [write(tmp_path, "a,b,y\n1,2,3\nx,3,5\n", "nn.csv"), "--target", "y"],
        "empty_cell": [write(tmp_path, "a,b,y\n1,2,3\n2,3,5\n3,,7\n", "ec.csv"), "--target", "y"],
        "nan": [write(tmp_path, "a,b,y\n1,2,nan\n2,3,5\n", "nan.csv"), "--target", "y"],
        "one_row": [write(tmp_path, "a,b,y\n1,2,3\n", "one.csv"), "--target", "y"],
        "lr_zero": [good, "--target", "y", "--lr", "0"],
        "batch_zero": [good, "--target", "y", "--batch-size", "0"],
        "batch_too_big": [good, "--target", "y", "--batch-size", "99"],
        "epochs_zero": [good, "--target", "y", "--epochs", "0"],
        "no_target": [good],
    }[case]
    if case == "binary":
        (tmp_path / "bin.csv").write_bytes(b"a,y\n\xff\xfe\x00\x01,\x80\n")
    proc = run_cli("fit", *args)
    assert_one_error_line(proc, code)
    assert needle in proc.stderr


def test_bare_command_prints_help():
    proc = run_cli()
    assert proc.returncode == 0 and "demo" in proc.stdout and "fit" in proc.stdout

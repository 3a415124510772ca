"""The landscape and diagnose commands, end to end in a subprocess."""

import re

from conftest import run_cli


def test_landscape_rosenbrock_three_optimizers(tmp_path):
    out = tmp_path / "r.png"
    p = run_cli("landscape", "rosenbrock", "--optimizers", "sgd,momentum,adam", "--out", out)
    assert p.returncode == 0, p.stderr
    assert "learning rates: sgd 0.001, momentum 0.001, adam 0.05 (defaults for rosenbrock" in p.stdout
    rows = [ln for ln in p.stdout.splitlines() if re.match(r"│ (sgd|momentum|adam) ", ln)]
    assert len(rows) == 3
    assert "ok" in rows[1] and "minimum" in rows[1]  # momentum nearly reaches (1, 1): loss 5.7e-05
    assert "momentum: nearly converged" in p.stdout
    assert out.stat().st_size > 10_000 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_landscape_saddle_with_start_and_gif(tmp_path):
    gif = tmp_path / "s.gif"
    p = run_cli("landscape", "saddle", "--optimizers", "sgd", "--start", "1,0", "--steps", "100", "--gif", gif)
    assert p.returncode == 0, p.stderr
    assert "stalled" in p.stdout and "saddle point" in p.stdout
    assert gif.read_bytes()[:6] == b"GIF89a"


def test_landscape_errors():
    p = run_cli("landscape", "nope")
    assert p.returncode == 2 and p.stderr.startswith("error: unknown landscape 'nope'; choose one of rosenbrock")
    p = run_cli("landscape", "booth", "--start", "1")
    assert p.returncode == 2 and "--start needs 2 comma-separated numbers" in p.stderr
    p = run_cli("landscape", "booth", "--optimizers", "sgd,bogus")
    assert p.returncode == 2 and "unknown optimizer 'bogus'" in p.stderr


def test_diagnose_the_lecture():
    p = run_cli("diagnose", "--lr", "0.001,0.13,0.2")
    assert p.returncode == 0, p.stderr
    assert "λmax = 15" in p.stdout and "2/λmax = 0.133333" in p.stdout
    assert "lr 0.001: too slow:" in p.stdout
    assert "lr 0.13: oscillating:" in p.stdout  # |1 - 0.13 * 15| = 0.95 per step: still zig-zagging at 100 epochs
    assert "lr 0.2: diverged:" in p.stdout and "stability limit 2/λmax = 0.1333" in p.stdout


def test_diagnose_a_csv(tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("x,y\n1,2\n2,4\n3,6\n4,8\n")
    p = run_cli("diagnose", csv, "--target", "y", "--no-bias", "--lr", "0.2")
    assert p.returncode == 0, p.stderr
    assert "λmax = 15" in p.stdout and "diverged" in p.stdout
    p = run_cli("diagnose", csv, "--lr", "0.1")
    assert p.returncode == 2 and "--target is required" in p.stderr

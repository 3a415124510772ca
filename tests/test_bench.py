"""The benchmarks run (at tiny sizes) so they do not rot; their numbers are not checked here."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_bench_quick_runs_every_section(capsys):
    pytest.importorskip("sklearn")
    pytest.importorskip("numba")
    sys.path.insert(0, str(ROOT))
    try:
        from bench.__main__ import main
    finally:
        sys.path.remove(str(ROOT))
    table = main(["--quick", "--repeats", "1", "--no-demo"])
    sections = {row[0].split(" d=")[0].split(" n=")[0] for row in table.rows}
    assert sections == {"per-sample SGD", "mini-batch B=64", "full-batch GD", "estimators", "estimators digits",
                        "minimize", "history"}
    assert all(row[2] > 0 for row in table.rows if "PyTorch" not in row[1] or "torch" in sys.modules)
    out = capsys.readouterr().out
    assert "blas:" in out and "targets (ratios from this run)" in out

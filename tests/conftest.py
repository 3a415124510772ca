import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def central_diff(f, w, h=1e-6):
    """The gradient of f at w by central differences, (f(w + h e_i) - f(w - h e_i)) / 2h."""
    w = np.asarray(w, dtype=np.float64)
    g = np.empty_like(w)
    for i in range(w.size):
        e = np.zeros_like(w)
        e[i] = h
        g[i] = (f(w + e) - f(w - e)) / (2 * h)
    return g


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def run_cli(*args, cwd=None, timeout=300):
    """Run `python -m descend ARGS` in a subprocess; return the CompletedProcess (text mode)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("MPLBACKEND", "Agg")
    return subprocess.run([sys.executable, "-m", "descend", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)


@pytest.fixture
def cli():
    return run_cli

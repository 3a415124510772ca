"""descend.plot.lr_find: the artists, not just that it ran."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import descend as ds  # noqa: E402


def _vlines(ax):
    """Vertical lines: (x, label) of each axvline."""
    out = {}
    for line in ax.get_lines():
        x = np.asarray(line.get_xdata(), dtype=float)
        if len(x) == 2 and x[0] == x[1] and tuple(line.get_ydata()) == (0, 1):
            out[line.get_label()] = x[0]
    return out


def test_lecture_plot_marks_suggestions_and_stable_rate(tmp_path):
    X, y = ds.datasets.lecture()
    res = ds.lr_find(ds.LinearRegression(X, y, bias=False), [1.0])
    fig = ds.plot.lr_find(res)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"  # 7.5 down to ~1e-12
    v = _vlines(ax)
    assert v[f"valley {res.suggestion_valley:.3g}"] == res.suggestion_valley
    assert v[f"steepest {res.suggestion_steepest:.3g}"] == res.suggestion_steepest
    assert v["stable 2/λmax 0.133"] == pytest.approx(2 / 15, rel=1e-12)
    curve = [ln for ln in ax.get_lines() if ln.get_label() == "loss"]
    assert len(curve) == 1  # full batch: the exact loss, no smoothed copy
    np.testing.assert_array_equal(curve[0].get_xdata(), res.lrs)
    np.testing.assert_array_equal(curve[0].get_ydata(), res.losses)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "valley" in legend and any(t.startswith("stable") for t in legend)
    fig.savefig(tmp_path / "lr.png")
    assert (tmp_path / "lr.png").stat().st_size > 1000


def test_mini_batch_plot_has_raw_and_smoothed_and_no_stable_rate_when_unknown():
    f = ds.Function(lambda w: float(w @ w), grad=lambda w: 2 * w, n_params=2)
    res = ds.lr_find(f, [1.0, 1.0], steps=50)
    fig = ds.plot.lr_find(res, logy=False)
    ax = fig.axes[0]
    assert ax.get_yscale() == "linear"
    assert not any(k.startswith("stable") for k in _vlines(ax))

    X, y = ds.datasets.linear(n=120, d=3, noise=0.5, seed=2)
    res = ds.lr_find(ds.LinearRegression(X, y), np.zeros(4), batch_size=8)
    ax = ds.plot.lr_find(res).axes[0]
    labels = [ln.get_label() for ln in ax.get_lines()]
    assert "loss" in labels and "smoothed (0.98)" in labels
    smoothed = next(ln for ln in ax.get_lines() if ln.get_label() == "smoothed (0.98)")
    np.testing.assert_array_equal(smoothed.get_ydata(), res.smoothed)
    assert "(batch)" in ax.get_ylabel()

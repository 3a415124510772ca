"""Landscape pictures: the artists they must hold, not just that they ran."""

import numpy as np
import pytest
from PIL import Image

import descend as ds
from descend import functions as F
from descend import plot
from descend.errors import ParameterError


@pytest.fixture(scope="module")
def runs():
    return F.trajectories(F.himmelblau, ["sgd", "momentum", "adam"], steps=60)


def _gid(ax, gid):
    return [ln for ln in ax.lines if ln.get_gid() == gid]


def test_landscape_draws_one_line_per_run_with_start_and_end(runs):
    fig = plot.landscape(F.himmelblau, runs)
    ax = fig.axes[0]
    lines = _gid(ax, "trajectory")
    assert [ln.get_label() for ln in lines] == [r.label for r in runs]
    for ln, r, s, e in zip(lines, runs, _gid(ax, "start"), _gid(ax, "end")):
        np.testing.assert_array_equal(np.column_stack(ln.get_data()), r.history.w)
        np.testing.assert_array_equal(np.column_stack(s.get_data())[0], r.history.w[0])
        np.testing.assert_array_equal(np.column_stack(e.get_data())[0], r.history.w[-1])
        assert s.get_color() == ln.get_color() == e.get_color()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["minimum", "saddle", "maximum", *[r.label for r in runs]]


def test_landscape_marks_known_special_points(runs):
    ax = plot.landscape(F.himmelblau, runs).axes[0]
    (mins,) = _gid(ax, "minima")
    np.testing.assert_allclose(np.column_stack(mins.get_data()), F.himmelblau.minima)
    assert mins.get_marker() == "*"
    (maxs,) = _gid(ax, "maxima")
    np.testing.assert_allclose(np.column_stack(maxs.get_data()), [[-0.2708445906673476, -0.9230385564799816]])
    assert len(np.column_stack(_gid(ax, "saddles")[0].get_data())) == 4
    assert ax.get_xlim() == (-5.0, 5.0) and ax.get_ylim() == (-5.0, 5.0)


def test_levels_are_log_spaced_when_the_range_is_wide():
    ax = plot.landscape(F.rosenbrock).axes[0]
    levels = ax.collections[0].levels
    steps = np.diff(levels)
    assert steps[-1] / steps[0] > 100  # geometric, not uniform
    ax = plot.landscape(F.saddle).axes[0]
    steps = np.diff(ax.collections[0].levels)
    np.testing.assert_allclose(steps, steps[0], rtol=1e-9)  # x^2 - y^2: linear levels
    lev, is_log = plot._landscape_levels(np.array([[0.0, 1.0], [2.0, 3.0]]), 5, True)
    assert is_log and lev[0] == pytest.approx(0.0) and lev[-1] == pytest.approx(3.0)


def test_landscape_rejects_objectives_that_are_not_2d():
    X, y = ds.datasets.lecture()
    with pytest.raises(ParameterError, match="two parameters"):
        plot.landscape(ds.LinearRegression(X, y, bias=False))


def test_animate_writes_a_gif_with_many_frames(tmp_path, runs):
    path = plot.animate(F.himmelblau, runs, tmp_path / "h.gif", fps=5, max_frames=8)
    with Image.open(path) as im:
        assert im.format == "GIF" and im.n_frames == 8
        frames = []
        for k in range(im.n_frames):
            im.seek(k)
            frames.append(np.asarray(im.convert("RGB"), dtype=np.int16))
        assert im.info["duration"] == 200
    # the paths grow: later frames differ from the first
    assert np.abs(frames[-1] - frames[0]).sum() > 0
    with pytest.raises(ParameterError, match="fps"):
        plot.animate(F.himmelblau, runs, tmp_path / "x.gif", fps=0)


def test_convergence_prints_the_fitted_rate():
    X, y = ds.datasets.lecture()
    obj = ds.LinearRegression(X, y, bias=False)
    runs = [ds.minimize(obj, [1.0], optimizer=ds.optim.SGD(lr=lr), epochs=60, label=f"lr={lr}") for lr in (0.001, 0.01)]
    ax = plot.convergence(runs, best=0.0).axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    # loss = 7.5 (w - 2)^2 shrinks by (1 - 15 lr)^2 per epoch
    assert labels == ["lr=0.001: ρ = 0.9702 per epoch", "lr=0.01: ρ = 0.7225 per epoch"]
    assert ax.get_yscale() == "log" and len(_gid(ax, "gap")) == 2
    # with the best estimated from the runs themselves, the rate of the slow run is unchanged
    labels = [t.get_text() for t in plot.convergence(runs).axes[0].get_legend().get_texts()]
    assert labels[0] == "lr=0.001: ρ = 0.9702 per epoch"
    # the fast run's own tail is biased by the estimated floor, but only slightly
    assert abs(float(labels[1].split("= ")[1].split()[0]) - 0.7225) < 0.005


def test_basins_plot_colours_starts_by_the_minimum_reached():
    census = ds.diagnose.basins(F.himmelblau, starts=16, epochs=150)
    ax = plot.basins(F.himmelblau, census).axes[0]
    groups = _gid(ax, "basin")
    assert len(groups) == 4 and sum(len(g.get_xdata()) for g in groups) == 16
    assert len({g.get_color() for g in groups}) == 4

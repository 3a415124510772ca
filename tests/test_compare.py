"""compare(): the recorded axes are exact, the trade-off shows per epoch, 'not reached' is honest."""

import math

import numpy as np
import pytest

import descend as ds
from descend.compare import compare, compare_data, default_lr


@pytest.fixture(scope="module")
def noisy():
    X, y = ds.datasets.linear(3000, 8, noise=0.5, bias=1.0, correlation=0.9, seed=1)
    return ds.LinearRegression(X, y)


@pytest.fixture(scope="module")
def comparison(noisy):
    runs = [dict(batch_size=None), dict(batch_size=1), dict(batch_size=64)]
    return compare(noisy, np.zeros(noisy.n_params), runs, epochs=4, seed=3)


def test_sgd_beats_gd_per_epoch_and_gd_uses_fewer_steps(comparison):
    gd, sgd, mb = comparison.results
    assert sgd.history.epoch_loss[1] < gd.history.epoch_loss[1]
    assert mb.history.epoch_loss[1] < gd.history.epoch_loss[1]
    per_epoch = [np.diff(r.history.epoch_step)[0] for r in comparison.results]
    assert per_epoch == [1, 3000, math.ceil(3000 / 64)]


def test_samples_and_steps_axes_are_exact(comparison):
    for i, (res, steps) in enumerate(zip(comparison.results, [1, 3000, 47])):
        xs, ys = comparison.curve(i, "samples")
        np.testing.assert_array_equal(xs, 3000 * np.arange(5))
        xs, _ = comparison.curve(i, "steps")
        np.testing.assert_array_equal(xs, steps * np.arange(5))
        assert len(res.history.step_loss) == 4 * steps
        t, _ = comparison.curve(i, "time")
        assert t[0] == 0 and np.all(np.diff(t) > 0)


def test_target_is_one_percent_above_the_exact_optimum(comparison, noisy):
    optimum = noisy.loss(noisy.solution())
    assert comparison.optimum == pytest.approx(optimum, rel=1e-12)
    assert comparison.target == pytest.approx(1.01 * optimum, rel=1e-6)


def test_not_reached_is_reported_honestly(noisy):
    comp = compare(noisy, np.zeros(noisy.n_params), [dict(batch_size=None, lr=1e-4), dict(batch_size=None)],
                   epochs=3)
    slow, fast = comp.table
    assert not slow["reached"] and slow["epochs"] is None and slow["time"] is None
    assert comp.format_table()[1][4:8] == ["not reached"] * 4
    # the reached row's numbers are read off the first boundary at or below the target
    h = comp.results[1].history
    if fast["reached"]:
        k = fast["epochs"]
        assert h.epoch_loss[k] <= comp.target and (k == 0 or h.epoch_loss[k - 1] > comp.target)


def test_default_rates_follow_the_documented_rule(noisy):
    L, L_max = noisy.smoothness()
    H = noisy.hessian()
    assert L == pytest.approx(np.linalg.eigvalsh(H)[-1], rel=1e-10)
    assert default_lr(noisy, "sgd", None)[0] == pytest.approx(1 / L)
    assert default_lr(noisy, "sgd", 1)[0] == pytest.approx(1 / L_max)
    n, B = noisy.n_samples, 64
    LB = n * (B - 1) / (B * (n - 1)) * L + (n - B) / (B * (n - 1)) * L_max
    assert default_lr(noisy, "momentum", B, momentum=0.9)[0] == pytest.approx(0.1 / LB)


def test_plot_has_one_line_per_configuration_per_panel_and_a_target(comparison):
    fig = ds.plot.compare(comparison, x="all", smooth=0.6)
    axes = fig.axes
    assert len(axes) == 4
    for ax in axes:
        labelled = [l for l in ax.get_lines() if not l.get_label().startswith("_")]
        runs = [l for l in labelled if not l.get_label().startswith("target")]
        assert len(runs) == 3
        targets = [l for l in labelled if l.get_label().startswith("target")]
        assert len(targets) == 1 and targets[0].get_ydata()[0] == pytest.approx(comparison.target)
    one = ds.plot.compare(comparison, x="steps", smooth=0)
    assert len(one.axes) == 1 and one.axes[0].get_xlabel().startswith("steps")


def test_compare_data_checks_batch_sizes():
    X, y = ds.datasets.lecture()
    with pytest.raises(ds.ParameterError, match="batch size 9 is larger than the number of rows"):
        compare_data(X, y, [9])


def test_cli_compare_prints_the_table_and_writes_a_figure(tmp_path, cli):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.standard_normal(400)
    p = tmp_path / "d.csv"
    p.write_text("a,b,c,t\n" + "\n".join(",".join(f"{v:.8f}" for v in [*x, t]) for x, t in zip(X, y)) + "\n")
    out = tmp_path / "cmp.png"
    proc = cli("compare", p, "--target", "t", "--batch-sizes", "1,16,full", "--epochs", "3", "--out", out)
    assert proc.returncode == 0, proc.stderr
    for word in ("SGD (B=1)", "mini-batch B=16", "full batch", "target loss", "wall time"):
        assert word in proc.stdout
    assert out.read_bytes()[:4] == b"\x89PNG"
    bad = cli("compare", p, "--target", "t", "--batch-sizes", "x")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --batch-sizes")

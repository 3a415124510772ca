"""The learning-rate finder: lecture numbers, the ramp, early stop, suggestions, stable rate."""

from __future__ import annotations

import numpy as np
import pytest

import descend as ds
from descend.errors import ParameterError
from descend.lrfind import steepest, valley


@pytest.fixture
def lecture():
    X, y = ds.datasets.lecture()
    return ds.LinearRegression(X, y, bias=False)


def test_lecture_suggestion_is_below_the_stable_rate(lecture):
    w0 = np.array([1.0])
    res = ds.lr_find(lecture, w0)
    assert res.stable_lr == pytest.approx(2 / 15, rel=1e-12, abs=0)
    assert res.suggestion is not None and 0 < res.suggestion < 2 / 15
    assert res.suggestion == res.suggestion_valley
    assert 0 < res.suggestion_steepest < 2 / 15
    # and the suggestion works: plain GD at it converges on the lecture
    fit = ds.minimize(lecture, w0, optimizer=ds.optim.SGD(lr=res.suggestion), epochs=100)
    assert abs(fit.w[0] - 2) < 1e-6
    assert "0.1333" in res.message


def test_weights_are_untouched(lecture):
    w0 = np.array([1.0])
    ds.lr_find(lecture, w0, optimizer=ds.optim.Adam())
    assert w0[0] == 1.0
    X, y = ds.datasets.linear(n=40, d=3, seed=0)
    obj = ds.LinearRegression(X, y)
    w = np.array([0.1, -0.2, 0.3, 0.4])
    ds.lr_find(obj, w, batch_size=8, optimizer=ds.optim.SGD(momentum=0.9))
    assert np.array_equal(w, [0.1, -0.2, 0.3, 0.4])


def test_ramp_and_losses_by_hand(lecture):
    """lr_k = start (end/start)^(k/(steps-1)); losses[k] = 7.5 (w_{k+1} - 2)^2 after the GD step at lr_k."""
    res = ds.lr_find(lecture, [1.0], start=1e-4, end=0.1, steps=30)  # all below 2/15: no stop
    k = np.arange(30)
    np.testing.assert_allclose(res.lrs, 1e-4 * (0.1 / 1e-4) ** (k / 29), rtol=1e-12)
    w, expected = 1.0, []
    for lr in res.lrs:
        w = w - lr * 15 * (w - 2)  # d/dw 7.5 (w - 2)^2
        expected.append(7.5 * (w - 2) ** 2)
    np.testing.assert_allclose(res.losses, expected, rtol=1e-9)
    assert res.smooth == 0 and np.array_equal(res.smoothed, res.losses)  # full batch: exact, unsmoothed
    assert res.start_loss == 7.5 and not res.stopped_early


def test_early_stop(lecture):
    res = ds.lr_find(lecture, [1.0])
    assert res.stopped_early and res.steps < 100
    assert res.lrs[-1] < 1.0  # well before end = 10
    s = res.smoothed
    assert s[-1] > 4 * s[:-1].min()  # it stopped at the first point beyond 4 x the best
    assert np.all(s[:-1] <= 4 * np.minimum.accumulate(s[:-1]))
    longer = ds.lr_find(lecture, [1.0], diverge=1e6)
    assert longer.steps > res.steps
    np.testing.assert_array_equal(longer.losses[: res.steps], res.losses)
    # a non-finite loss stops it too, and is kept as the last point
    # from w = 1e150 (loss 7.5e300) the steps at lr 1, 1.67, 2.78 multiply the loss by
    # (1 - 15 lr)^2 = 196, 577, 1659: 1.47e303, 8.5e305, then inf
    huge = ds.lr_find(lecture, [1e150], start=1.0, end=100.0, steps=10, diverge=1e10)
    assert huge.stopped_early and huge.steps == 3
    assert np.isfinite(huge.losses[0]) and huge.losses[-1] == np.inf and "became inf" in huge.message


def test_steepest_is_measured_against_log_lr():
    """On rates that are not log-uniform, the steepest point per unit log(lr) is not the steepest
    per index: loss = -tanh(log(lr) - log(1e-2)) is steepest at 1e-2 exactly; the grid is fine
    (0.01 in log) near it and coarse (0.5) elsewhere, so per index the coarse part looks steeper."""
    x = np.concatenate([np.arange(-12.0, -5.0, 0.5), np.arange(-5.0, -4.2, 0.01), np.arange(-4.2, 2.0, 0.5)])
    lrs = np.exp(x)
    x0 = np.log(1e-2)
    loss = 1.0 - np.tanh(x - x0)
    got = steepest(lrs, loss, last=len(loss) - 1)
    assert got == pytest.approx(1e-2, rel=0.02)
    per_index = lrs[int(np.argmin(np.gradient(loss)))]
    assert abs(np.log(per_index) - x0) > 0.3  # the per-index rule would be off by > 35%


def test_lr_find_steepest_matches_an_independent_recomputation():
    X, y = ds.datasets.linear(n=200, d=4, noise=0.3, seed=3)
    obj = ds.LinearRegression(X, y)
    res = ds.lr_find(obj, np.zeros(5), batch_size=16, seed=1)
    first, last = res.valley
    slope = np.gradient(res.smoothed[first : last + 1], np.log(res.lrs[first : last + 1]))
    assert res.suggestion_steepest == res.lrs[first + int(np.argmin(slope))]
    # the smoothing is descend's (TensorBoard's = fastai's debiased EMA)
    np.testing.assert_allclose(res.smoothed, ds.smooth(res.losses, 0.98), rtol=1e-12)
    assert res.smooth == 0.98


def test_valley_rule_by_hand():
    # flat at 10, slow creep, then down to 1 at index 8, then up: top 10, floor 1, drop 9;
    # the valley starts at the last point above 1 + 0.9 * 9 = 9.1 (index 3) and ends at 8
    s = np.array([10.0, 9.99, 9.98, 9.5, 8.0, 5.0, 3.0, 1.5, 1.0, 2.0, 40.0])
    lrs = np.geomspace(1e-4, 1e1, len(s))
    lr, span = valley(lrs, s)
    assert span == (3, 8)
    # 2/3 of the way from index 3 to 8 in log(lr) (uniform here): 3 + 10/3 = 6.33 -> index 6
    assert lr == lrs[6]
    assert valley(lrs, np.arange(5.0, 16.0)) == (None, None)  # never goes down


def test_optimizer_steps_are_torchs_with_the_same_ramp(lecture):
    """lr_find with Adam takes exactly torch's Adam steps under an exponential LambdaLR ramp."""
    torch = pytest.importorskip("torch")
    start, end, steps = 1e-3, 1.0, 25
    res = ds.lr_find(lecture, [1.0], optimizer=ds.optim.Adam(lr=0.5, betas=(0.8, 0.99)), start=start, end=end,
                     steps=steps, diverge=1e9)
    p = torch.tensor([1.0], dtype=torch.float64)
    opt = torch.optim.Adam([p], lr=start, betas=(0.8, 0.99))
    gamma = (end / start) ** (1 / (steps - 1))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: gamma**k)
    losses = []
    for _ in range(steps):
        w = p.detach().numpy().copy()
        p.grad = torch.from_numpy(lecture.grad(w))
        opt.step()
        sched.step()
        losses.append(lecture.loss(p.detach().numpy().copy()))
    np.testing.assert_allclose(res.losses, losses, rtol=1e-9)


def test_stable_rate_of_logistic_regression_at_w0():
    X, y = ds.datasets.classification(n=80, d=3, seed=4)
    obj = ds.LogisticRegression(X, y)
    w0 = np.array([0.5, -0.5, 0.2, 0.1])
    res = ds.lr_find(obj, w0)
    Xb = np.column_stack([X, np.ones(len(X))])
    p = 1 / (1 + np.exp(-(Xb @ w0)))
    H = Xb.T @ (Xb * (p * (1 - p))[:, None]) / len(X)
    assert res.stable_lr == pytest.approx(2 / np.linalg.eigvalsh(H)[-1], rel=1e-10)


def test_stable_rate_only_where_the_hessian_is_exact():
    f = ds.Function(lambda w: float(w @ w), grad=lambda w: 2 * w, n_params=2)
    assert ds.lr_find(f, [1.0, 1.0], steps=40).stable_lr is None
    g = ds.Function(lambda w: float(w @ w), grad=lambda w: 2 * w, hessian=lambda w: 2 * np.eye(2), n_params=2)
    res = ds.lr_find(g, [1.0, 1.0], steps=40)
    assert res.stable_lr == 1.0 and res.suggestion < 1.0


def test_diabetes_suggestion_fits():
    """A standardised real data set: the suggestion is below the stable rate and fits in 100 epochs."""
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X, y = (X - X.mean(0)) / X.std(0), (y - y.mean()) / y.std()
    obj = ds.LinearRegression(X, y)
    res = ds.lr_find(obj, np.zeros(obj.n_params))
    assert res.suggestion < res.stable_lr
    fit = ds.minimize(obj, np.zeros(obj.n_params), optimizer=ds.optim.SGD(lr=res.suggestion), epochs=100)
    assert fit.loss < 1.01 * obj.loss(obj.solution())


def test_mini_batch_run_is_reproducible(lecture):
    a = ds.lr_find(lecture, [1.0], batch_size=2, seed=3)
    b = ds.lr_find(lecture, [1.0], batch_size=2, seed=3)
    assert np.array_equal(a.losses, b.losses) and a.suggestion == b.suggestion
    assert a.smooth == 0.98 and a.batch_size == 2


@pytest.mark.parametrize(("kwargs", "word"), [(dict(start=0), "start"), (dict(end=1e-8), "end"),
                                              (dict(steps=2), "steps"), (dict(diverge=1.0), "diverge"),
                                              (dict(smooth=1.0), "smooth"), (dict(batch_size=9), "batch_size"),
                                              (dict(optimizer="adam"), "optimizer")])
def test_bad_arguments(lecture, kwargs, word):
    with pytest.raises(ParameterError, match=word):
        ds.lr_find(lecture, [1.0], **kwargs)

"""Schedules against torch.optim.lr_scheduler and scikit-learn; vectorised == scalar; plateau monitor."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import descend as ds
from descend import optim, schedules
from descend.errors import ParameterError
from descend.monitors import ReduceLROnPlateau

torch = pytest.importorskip("torch")


def torch_lrs(make_scheduler, lr, steps):
    """The lr torch's scheduler gives to each of ``steps`` optimizer steps (stepped after each)."""
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    sched = make_scheduler(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(out)


LR = 0.3
TORCH_CASES = [
    ("step", schedules.step(LR, step_size=7, gamma=0.5),
     lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.5), 60),
    ("step-default-gamma", schedules.step(LR, step_size=3),
     lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3), 20),
    ("exponential", schedules.exponential(LR, gamma=0.93),
     lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.93), 80),
    ("cosine", schedules.cosine(LR, T=40, floor=0.01),
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=40, eta_min=0.01), 41),
    ("cosine-to-zero", schedules.cosine(LR, T=25),
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=25), 26),
    ("warmup", schedules.warmup(LR, steps=10, start_factor=0.1),
     lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=10), 30),
    ("warmup-default", schedules.warmup(LR, steps=5),
     lambda o: torch.optim.lr_scheduler.LinearLR(o, total_iters=5), 12),
    ("warmup-then-exponential", schedules.warmup(schedules.exponential(LR, gamma=0.9), steps=6, start_factor=0.5),
     lambda o: torch.optim.lr_scheduler.ChainedScheduler(
         [torch.optim.lr_scheduler.LinearLR(o, start_factor=0.5, total_iters=6),
          torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9)]), 30),
]


@pytest.mark.parametrize(("name", "ours", "theirs", "steps"), TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_schedule_matches_torch(name, ours, theirs, steps):
    expected = torch_lrs(theirs, LR, steps)
    got = np.array([ours(k) for k in range(steps)])
    # torch computes these recursively (lr_k from lr_{k-1}), we in closed form: rounding only
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    assert len(np.unique(np.round(expected, 12))) > 1  # the schedule really changes the rate


def test_cosine_stays_at_its_floor_after_T_where_torch_turns_back():
    ours = schedules.cosine(LR, T=10, floor=0.01)
    theirs = torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.01), LR, 21)
    assert all(ours(k) == 0.01 for k in range(10, 40))
    assert theirs[15] > 0.1  # documented difference: torch's rises again after T_max


def test_inverse_scaling_is_scikit_learns_invscaling():
    """sklearn's SGD (invscaling) on 1-D data, one pass in order, against descend's SGD with this schedule.

    scikit-learn's step t = 1, 2, ... uses eta0 / t^power_t on the gradient of the *halved* squared
    loss, so descend (not halved) uses eta0 / 2 to take the same steps.
    """
    from sklearn.linear_model import SGDRegressor

    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 1))
    y = 3.0 * X[:, 0] + 0.1 * rng.standard_normal(30)
    eta0, power_t = 0.1, 0.4
    sk = SGDRegressor(loss="squared_error", penalty=None, learning_rate="invscaling", eta0=eta0, power_t=power_t,
                      max_iter=1, tol=None, shuffle=False, fit_intercept=False, average=False)
    sk.fit(X, y)  # tol=None: no convergence warning
    obj = ds.LinearRegression(X, y, bias=False)
    res = ds.minimize(obj, [0.0], optimizer=optim.SGD(lr=schedules.inverse_scaling(eta0 / 2, power_t)),
                      batch_size=1, shuffle=False, epochs=1)
    np.testing.assert_allclose(res.w, sk.coef_, rtol=1e-12)
    np.testing.assert_allclose(res.history.lr, eta0 / 2 / np.arange(1, 31) ** power_t, rtol=1e-15)


ALL = [schedules.constant(0.2), schedules.step(0.2, 4, 0.3), schedules.exponential(0.2, 0.97),
       schedules.inverse_scaling(0.2, 0.5), schedules.inverse_scaling(0.2, 0.0), schedules.cosine(0.2, 13, 0.02),
       schedules.warmup(0.2, 8), schedules.warmup(schedules.cosine(0.2, 30), 5, 0.2)]


@pytest.mark.parametrize("schedule", ALL, ids=repr)
def test_vectorised_equals_scalar(schedule):
    k = np.arange(50)
    scalar = np.array([schedule(int(i)) for i in k])
    np.testing.assert_allclose(schedule(k), scalar, rtol=1e-15, atol=0)
    np.testing.assert_allclose(schedules.evaluate(schedule, 10, 20), scalar[10:30], rtol=1e-15, atol=0)
    assert np.all(scalar >= 0) and scalar[0] > 0


def test_hand_worked_values():
    assert [schedules.step(1.0, 2, 0.5)(k) for k in range(5)] == [1.0, 1.0, 0.5, 0.5, 0.25]
    assert schedules.exponential(2.0, 0.5)(3) == 0.25
    assert schedules.inverse_scaling(1.0, 0.5)(3) == 0.5  # t = 4
    assert schedules.cosine(1.0, 4, 0.0)(2) == pytest.approx(0.5, abs=1e-15)
    assert [schedules.warmup(1.0, 4, 0.2)(k) for k in (0, 2, 4, 9)] == pytest.approx([0.2, 0.6, 1.0, 1.0])


def test_from_name_builds_each_schedule():
    assert schedules.from_name("constant", 0.1)(50) == 0.1
    assert schedules.from_name("step", 0.1, step_size=3, gamma=0.5)(3) == 0.05
    assert schedules.from_name("exponential", 0.1, gamma=0.5)(2) == pytest.approx(0.025)
    assert schedules.from_name("invscaling", 0.1, power_t=0.5)(3) == pytest.approx(0.05)
    assert schedules.from_name("cosine", 0.1, T=10, floor=0.01)(10) == pytest.approx(0.01)
    w = schedules.from_name("warmup", 0.1, warmup_steps=4)
    assert w(0) == pytest.approx(0.1 / 3) and w(4) == pytest.approx(0.1)
    wrapped = schedules.from_name("exponential", 0.1, gamma=0.9, warmup_steps=2, start_factor=0.5)
    assert wrapped(0) == pytest.approx(0.05) and wrapped(3) == pytest.approx(0.1 * 0.9**3)
    # None means "not given"
    assert schedules.from_name("step", 0.1, step_size=2, gamma=None)(2) == pytest.approx(0.01)


@pytest.mark.parametrize(("args", "kwargs", "word"), [
    (("linear", 0.1), {}, "unknown schedule"),
    (("step", 0.1), {}, "step_size"),
    (("exponential", 0.1), {}, "gamma"),
    (("cosine", 0.1), {}, "needs T"),
    (("warmup", 0.1), {}, "warmup_steps"),
    (("constant", 0.1), {"gamma": 0.5}, "takes no parameters"),
    (("step", 0.1), {"step_size": 2, "power_t": 0.5}, "power_t"),
    (("step", 0.1), {"step_size": 0}, "step_size"),
    (("exponential", -0.1), {"gamma": 0.5}, "lr"),
    (("cosine", 0.1), {"T": 10, "floor": 0.5}, "floor"),
    (("constant", 0.1), {"start_factor": 0.5}, "start_factor"),
])
def test_from_name_errors(args, kwargs, word):
    with pytest.raises(ParameterError, match=word):
        schedules.from_name(*args, **kwargs)


# ------------------------------------------------------------------ ReduceLROnPlateau

LOSSES = [10.0, 9.0, 8.0, 8.0, 7.9995, 8.1, 8.0, 8.0, 8.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 4.9, 4.9, 4.9, 4.9, 4.9,
          4.9, 4.9, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0]


@pytest.mark.parametrize("kwargs", [dict(factor=0.5, patience=2), dict(factor=0.1, patience=0),
                                    dict(factor=0.5, patience=1, cooldown=2),
                                    dict(factor=0.3, patience=1, threshold=0.05),
                                    dict(factor=0.5, patience=1, min_lr=0.02),
                                    dict(factor=0.1, patience=0, eps=0.05)],
                         ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
def test_reduce_on_plateau_matches_torch(kwargs):
    lr = 0.2
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", threshold_mode="rel", **kwargs)
    expected = []
    for loss in LOSSES:
        sched.step(loss)
        expected.append(opt.param_groups[0]["lr"])

    ours = optim.SGD(lr=lr)
    run = SimpleNamespace(optimizer=ours, state=ours.init(np.zeros(1)), epoch=0,
                          history=SimpleNamespace(epoch_loss_list=[]))
    monitor = ReduceLROnPlateau(**kwargs)
    monitor.on_start(run)
    got = []
    for epoch, loss in enumerate(LOSSES):
        run.epoch = epoch
        run.history.epoch_loss_list.append(loss)
        assert monitor.on_epoch(run) is None
        got.append(ours.lr_at(run.state))
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert len(set(np.round(expected, 12))) > 1 or kwargs.get("eps") == 0.05


def test_reduce_on_plateau_in_the_loop_lowers_the_rate():
    """In minimize: a rate too high to settle gets cut, and the cuts are what the steps used."""
    X, y = ds.datasets.linear(n=64, d=2, noise=0.5, seed=1)
    obj = ds.LinearRegression(X, y)
    mon = ReduceLROnPlateau(factor=0.5, patience=1)
    res = ds.minimize(obj, np.zeros(3), optimizer=optim.SGD(lr=0.2), batch_size=4, epochs=30, callbacks=[mon])
    assert mon.cuts, "expected at least one cut on a noisy mini-batch run"
    epoch, new = mon.cuts[0]
    lrs = res.history.lr[res.history.step_epoch == epoch]
    np.testing.assert_allclose(lrs, new, rtol=1e-15)
    assert res.history.lr[0] == 0.2

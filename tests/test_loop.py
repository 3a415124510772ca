"""The one loop: batching, reproducibility, convergence, divergence, interruption, resume."""

import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import descend as ds
from descend import batching
from descend.monitors import EarlyStopping, Monitor


def problem(n=200, d=3, seed=0, noise=0.3):
    X, y = ds.datasets.linear(n, d, noise=noise, bias=0.7, seed=seed)
    return ds.LinearRegression(X, y, bias=True)


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 60), b=st.integers(1, 60), seed=st.integers(0, 10**6), epoch=st.integers(0, 1000),
       shuffle=st.booleans())
def test_every_row_once_per_epoch(n, b, seed, epoch, shuffle):
    b = min(b, n)
    order = batching.epoch_order(n, epoch, seed, shuffle)
    slices = batching.batch_slices(n, b)
    seen = np.concatenate([order[s] for s in slices])
    assert sorted(seen.tolist()) == list(range(n))
    assert len(slices) == batching.steps_per_epoch(n, b) == -(-n // b)
    assert all(s.stop - s.start == b for s in slices[:-1]) and 1 <= slices[-1].stop - slices[-1].start <= b


def test_rows_seen_by_the_loop_are_each_row_once_per_epoch():
    obj = problem(n=23)
    seen = []

    class Spy(ds.LinearRegression):
        def loss_and_grad(self, w, rows=None):
            if rows is not None:  # the steps' batches (rows=None: a full-data evaluation at a boundary)
                seen.append(np.asarray(rows))
            return super().loss_and_grad(w, rows)

    spy = Spy(obj.X, obj.y)
    ds.minimize(spy, np.zeros(4), batch_size=5, epochs=3, seed=7)
    per_epoch = np.split(np.concatenate(seen), 3)
    for e, rows in enumerate(per_epoch):
        assert sorted(rows.tolist()) == list(range(23))
        np.testing.assert_array_equal(rows, batching.epoch_order(23, e, 7, True))
    assert [len(r) for r in seen[:5]] == [5, 5, 5, 5, 3]  # the last batch is shorter


def test_order_is_a_pure_function_of_seed_and_epoch():
    a = batching.epoch_order(50, 3, seed=11)
    np.testing.assert_array_equal(a, batching.epoch_order(50, 3, seed=11))
    assert not np.array_equal(a, batching.epoch_order(50, 4, seed=11))
    assert not np.array_equal(a, batching.epoch_order(50, 3, seed=12))
    np.testing.assert_array_equal(batching.epoch_order(50, 3, seed=11, shuffle=False), np.arange(50))


def test_same_seed_same_run_different_seed_different_run():
    obj = problem()
    run = lambda s: ds.minimize(obj, np.zeros(4), optimizer=ds.optim.SGD(lr=0.01), batch_size=8, epochs=4, seed=s)
    a, b, c = run(1), run(1), run(2)
    np.testing.assert_array_equal(a.w, b.w)
    np.testing.assert_array_equal(a.history.step_loss, b.history.step_loss)
    assert not np.array_equal(a.w, c.w)


@pytest.mark.parametrize("batch_size, lr, epochs", [(None, 0.1, 400), (1, 0.05, 60), (16, 0.2, 200)])
def test_methods_reach_the_least_squares_loss(batch_size, lr, epochs):
    for seed in range(3):
        obj = problem(n=120, d=3, seed=seed)
        best = obj.loss(obj.solution())
        # constant-lr SGD hovers in a noise ball; a decaying schedule settles it
        sched = ds.schedules.inverse_scaling(lr, 0.6) if batch_size else lr
        res = ds.minimize(obj, np.zeros(4), optimizer=ds.optim.SGD(lr=sched), batch_size=batch_size,
                          epochs=epochs, seed=seed)
        assert res.status == "max_epochs"
        assert res.loss <= best * (1 + 1e-3), (res.loss, best)


def test_history_shapes_and_per_step_records():
    obj = problem(n=50)
    res = ds.minimize(obj, np.zeros(4), optimizer=ds.optim.SGD(lr=0.01), batch_size=8, epochs=5)
    h = res.history
    assert len(h.epoch_loss) == 6 and h.w.shape == (6, 4)
    assert len(h.step_loss) == len(h.grad_norm) == len(h.lr) == 5 * 7
    np.testing.assert_array_equal(h.epoch_step, np.arange(6) * 7)
    np.testing.assert_array_equal(h.epoch_samples, np.arange(6) * 50)
    np.testing.assert_allclose(h.lr, 0.01)
    assert np.all(np.diff(h.epoch_time) >= 0) and res.wall_time >= h.epoch_time[-1]
    # the recorded step loss and gradient norm are those of the batch at the weights before the step
    order = batching.epoch_order(50, 0, 0, True)
    loss0, g0 = obj.loss_and_grad(np.zeros(4), order[:8])
    assert h.step_loss[0] == pytest.approx(loss0, rel=1e-14)
    assert h.grad_norm[0] == pytest.approx(np.linalg.norm(g0), rel=1e-14)
    assert res.loss == pytest.approx(obj.loss(res.w), rel=1e-14)


def test_divergence_at_lr_0_2_is_caught_with_best_weights_and_no_warnings():
    X, y = ds.datasets.lecture()
    obj = ds.LinearRegression(X, y, bias=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = ds.minimize(obj, [1.0], optimizer=ds.optim.SGD(lr=0.2), epochs=100)
    assert res.status == "diverged"
    assert res.w[0] == 1.0 and res.loss == 7.5  # the start was the best point seen
    # |w - 2| doubles each epoch (factor 1 - 0.2 * 15 = -2): the history is kept up to the stop
    k = np.arange(len(res.history.epoch_loss))
    np.testing.assert_allclose(res.history.epoch_loss, 7.5 * 4.0**k, rtol=1e-12)
    assert 1 < len(k) < 100
    assert "0.2" in res.message and "smaller" in res.message


def test_non_finite_batch_stops_before_the_update_without_warnings():
    X, y = ds.datasets.lecture()
    obj = ds.LinearRegression(X, y, bias=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = ds.minimize(obj, [1.0], optimizer=ds.optim.SGD(lr=1e150), batch_size=1, epochs=3)
    assert res.status == "diverged"
    assert np.isfinite(res.w).all() and res.w[0] == 1.0
    assert not np.isfinite(res.history.step_loss[-1]) or not np.isfinite(res.history.grad_norm[-1])


def test_tol_converges_on_the_gradient_norm():
    X, y = ds.datasets.lecture()
    obj = ds.LinearRegression(X, y, bias=False)
    res = ds.minimize(obj, [1.0], optimizer=ds.optim.SGD(lr=0.01), epochs=1000, tol=1e-6)
    assert res.status == "converged"
    # gradient 15 |w - 2| = 15 * 0.85^k <= 1e-6 first at k = ceil(log(1e-6/15) / log(0.85))
    k = int(np.ceil(np.log(1e-6 / 15) / np.log(0.85)))
    assert res.epochs == k
    assert res.history.epoch_grad_norm[-1] <= 1e-6 < res.history.epoch_grad_norm[-2]


def test_early_stopping_restores_best():
    X, y = ds.datasets.lecture()
    obj = ds.LinearRegression(X, y, bias=False)
    # lr = 0.13: |1 - 15 lr| = 0.95, slow oscillating convergence; early stopping with a large
    # min_delta stops after the improvement falls below it
    res = ds.minimize(obj, [1.0], optimizer=ds.optim.SGD(lr=0.13), epochs=500,
                      callbacks=[EarlyStopping(patience=3, min_delta=1e-3)])
    assert res.status == "stopped"
    losses = res.history.epoch_loss
    assert res.loss == losses.min() and res.w[0] == res.history.w[np.argmin(losses)][0]


def test_keyboard_interrupt_keeps_history_and_best():
    obj = problem()

    class Interrupt(Monitor):
        def on_epoch(self, run):
            if run.epoch == 3:
                raise KeyboardInterrupt

    res = ds.minimize(obj, np.zeros(4), optimizer=ds.optim.SGD(lr=0.01), batch_size=10, epochs=10,
                      callbacks=[Interrupt()])
    assert res.status == "stopped" and "interrupted" in res.message
    assert len(res.history.epoch_loss) == 4 and len(res.history.step_loss) == 3 * 20
    assert res.loss == res.history.epoch_loss.min()


def test_resume_is_bit_identical():
    obj = problem()
    opt = lambda: ds.optim.SGD(lr=0.01, momentum=0.9)
    full = ds.minimize(obj, np.zeros(4), optimizer=opt(), batch_size=7, epochs=6, seed=5)
    half = ds.minimize(obj, np.zeros(4), optimizer=opt(), batch_size=7, epochs=3, seed=5)
    ckpt = json.loads(json.dumps(half.checkpoint))
    rest = ds.minimize(obj, np.zeros(4), optimizer=opt(), batch_size=7, epochs=6, seed=5, resume=ckpt)
    np.testing.assert_array_equal(rest.w, full.w)
    np.testing.assert_array_equal(np.concatenate([half.history.step_loss, rest.history.step_loss]),
                                  full.history.step_loss)


@pytest.mark.parametrize("kwargs, match", [
    (dict(batch_size=0), "batch_size must be an integer from 1"),
    (dict(batch_size=201), "batch_size must be an integer from 1"),
    (dict(epochs=0), "epochs must be an integer > 0"),
    (dict(optimizer="sgd"), "optimizer must be a descend.optim optimizer"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ds.ParameterError, match=match):
        ds.minimize(problem(), np.zeros(4), **kwargs)


def test_function_objective_takes_one_step_per_epoch():
    f = ds.Function(lambda w: float(w @ w), grad=lambda w: 2 * w)
    res = ds.minimize(f, [3.0, -4.0], optimizer=ds.optim.SGD(lr=0.25), epochs=5)
    np.testing.assert_allclose(res.history.w[:, 0], 3.0 * 0.5 ** np.arange(6))
    assert len(res.history.step_loss) == 5


def test_the_callers_w0_is_never_modified():
    obj = problem()
    w0 = np.zeros(4)
    ds.minimize(obj, w0, optimizer=ds.optim.SGD(lr=0.01), epochs=3)
    np.testing.assert_array_equal(w0, np.zeros(4))


def test_progress_bar_appears_only_for_slow_runs():
    import io

    from rich.console import Console

    from descend.monitors import Progress

    obj = problem()
    for delay, shown in ((0.0, True), (60.0, False)):
        buf = io.StringIO()
        bar = Progress("fit", delay=delay, console=Console(file=buf, force_terminal=True, width=80),
                       transient=False)
        ds.minimize(obj, np.zeros(4), optimizer=ds.optim.SGD(lr=0.01), epochs=5, callbacks=[bar])
        assert ("5/5" in buf.getvalue()) is shown

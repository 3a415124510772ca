"""Curvature, stable learning rate, critical points, verdicts and basins."""

import numpy as np
import pytest

import descend as ds
from descend import curvature as C
from descend import diagnose
from descend import functions as F
from descend.errors import ParameterError


@pytest.fixture
def lecture():
    X, y = ds.datasets.lecture()
    return ds.LinearRegression(X, y, bias=False)


def run(obj, lr, epochs=100, w0=(1.0,), **kw):
    return ds.minimize(obj, list(w0), optimizer=ds.optim.SGD(lr=lr), epochs=epochs, **kw)


# ---------------------------------------------------------------------------------- curvature


def test_lecture_curvature_is_15_and_stable_lr_2_over_15(lecture):
    # cost(w) = 7.5 (w - 2)^2: second derivative 15 everywhere
    assert diagnose.curvature(lecture, [1.0]) == pytest.approx(15.0, rel=1e-14)
    assert diagnose.curvature(lecture) == pytest.approx(15.0, rel=1e-14)
    assert diagnose.stable_lr(lecture, [1.0]) == pytest.approx(2 / 15, rel=1e-14)


def test_exact_curvature_of_linear_regression_with_bias(rng):
    X = rng.standard_normal((50, 3))
    obj = ds.LinearRegression(X, rng.standard_normal(50), bias=True)
    Xb = np.column_stack([X, np.ones(50)])
    assert diagnose.curvature(obj) == pytest.approx(np.linalg.eigvalsh(2 * Xb.T @ Xb / 50)[-1], rel=1e-12)


def test_lanczos_matches_eigvalsh_without_an_exact_hessian(rng):
    A = rng.standard_normal((80, 80))
    H = A @ A.T / 80 + np.diag(np.linspace(0, 9, 80))
    obj = ds.Function(lambda w: 0.5 * w @ H @ w, grad=lambda w: H @ w, n_params=80)
    assert not C._hessian_affordable(obj, 80)  # 80 > FD_MAX_PARAMS: Lanczos
    assert diagnose.curvature(obj, np.ones(80)) == pytest.approx(np.linalg.eigvalsh(H)[-1], rel=1e-5)
    # a negative-dominant spectrum: still the largest (algebraic) eigenvalue
    G = -H + 2 * np.eye(80)
    neg = ds.Function(lambda w: 0.5 * w @ G @ w, grad=lambda w: G @ w, n_params=80)
    assert diagnose.curvature(neg, np.zeros(80)) == pytest.approx(2 - np.linalg.eigvalsh(H)[0], rel=1e-5)


def test_large_linear_regression_uses_hessian_vector_products(rng):
    X = rng.standard_normal((300, 2500))
    obj = ds.LinearRegression(X, rng.standard_normal(300), bias=False)
    assert not C._hessian_affordable(obj, 2500)
    s = np.linalg.svd(X, compute_uv=False)[0]
    assert diagnose.curvature(obj, np.zeros(2500)) == pytest.approx(2 * s * s / 300, rel=1e-4)


def test_stable_lr_is_inf_without_positive_curvature():
    assert diagnose.stable_lr(F.saddle, [0, 0]) == 1.0  # lambda_max = 2 along x
    concave = ds.Function(lambda w: -w @ w, grad=lambda w: -2 * w, hessian=lambda w: -2 * np.eye(2), n_params=2)
    assert diagnose.stable_lr(concave, [1, 1]) == np.inf


# ----------------------------------------------------------------------------------- classify


@pytest.mark.parametrize("f, w, kind", [
    (F.saddle, (0, 0), "saddle"), (F.rosenbrock, (1, 1), "minimum"), (F.monkey_saddle, (0, 0), "degenerate"),
    (F.himmelblau, (-0.270845, -0.923039), "maximum"), (F.booth, (1, 3), "minimum"),
    (F.six_hump_camel, (0, 0), "saddle"), (F.beale, (0, 1), "saddle"),
])
def test_classify(f, w, kind):
    assert diagnose.classify(f, w) == kind


def test_classify_tolerance_and_finite_difference_hessians():
    flat = ds.Function(lambda w: w[0] ** 2 + 1e-9 * w[1] ** 2, n_params=2)  # FD gradient and Hessian
    assert diagnose.classify(flat, [0.0, 0.0], tol=1e-4) == "degenerate"
    assert diagnose.classify(flat, [0.0, 0.0], tol=1e-12, atol=0) == "minimum"
    bowl = ds.Function(lambda w: w @ w)
    assert diagnose.classify(bowl, [0.3, -0.2]) == "minimum"


# ----------------------------------------------------------------------------------- verdicts


def test_lecture_lr_0_2_diverges_and_names_the_limit(lecture):
    res = run(lecture, 0.2)
    assert res.status == "diverged" and res.verdict == "diverged"
    assert "above SGD's stability limit 2/λmax = 0.1333 (λmax = 15)" in res.message
    assert "use a smaller rate, at most 0.06667" in res.message
    v = diagnose.verdict(lecture, res, "x")
    assert v.curvature == pytest.approx(15) and v.stable_lr == pytest.approx(2 / 15)


def test_lecture_lr_0_13_oscillates_and_0_1_converges(lecture):
    res = run(lecture, 0.13)
    assert res.verdict == "oscillating" and res.status == "max_epochs"
    assert "between 1/λmax = 0.06667 and 2/λmax = 0.1333" in res.message
    # the zig-zag is real: w - 2 = -(-0.95)^t alternates in sign
    d = res.history.w[:20, 0] - 2
    assert np.all(np.sign(d[:-1]) == -np.sign(d[1:]))
    # at lr 0.1 it zig-zags too, but |1 - 1.5| = 0.5 per step: after 100 epochs the gradient has vanished
    assert run(lecture, 0.1).verdict == "converged"


def test_lecture_lr_0_001_is_too_slow(lecture):
    res = run(lecture, 0.001)
    assert res.verdict == "too_slow" and res.message.startswith("too slow:")
    # the loss falls by (1 - 0.015)^2 per epoch: the fitted factor is 0.9702, 229 more epochs to 0.1%
    assert "steady factor 0.9702 " in res.message and "about 229 more epochs" in res.message
    assert "raise it towards 0.06667" in res.message


def test_lecture_lr_0_01_converges_for_every_batch_size(lecture):
    for b in (None, 1, 2):
        res = run(lecture, 0.01, batch_size=b, shuffle=False)
        assert res.verdict == "converged", res.message


def test_gd_on_the_stable_axis_stalls_at_the_saddle_and_a_nudge_escapes():
    stuck = ds.minimize(F.saddle, [1.0, 0.0], optimizer=ds.optim.SGD(lr=0.1), epochs=100)
    assert stuck.verdict == "stalled" and "saddle point" in stuck.message
    assert np.linalg.norm(stuck.w) < 1e-9  # x shrinks by 0.8 per step, y stays 0
    nudged = ds.minimize(F.saddle, [1.0, 1e-3], optimizer=ds.optim.SGD(lr=0.1), epochs=100)
    assert nudged.verdict != "stalled" and abs(nudged.w[1]) > 1e3  # y grows by 1.2 per step
    assert nudged.loss < -1e6


def test_monkey_saddle_origin_reached_exactly_is_a_plateau():
    res = ds.minimize(F.monkey_saddle, [0.0, 0.0], optimizer=ds.optim.SGD(lr=0.1), epochs=10)
    assert res.verdict == "stalled" and "plateau" in res.message


def test_local_minimum_is_named_as_such():
    res = ds.minimize(F.rastrigin, [1.1, 0.1], optimizer=ds.optim.SGD(lr=0.002), epochs=300)
    assert res.verdict == "converged" and "a local minimum (the global minimum is 0)" in res.message


def test_tol_and_early_stopping_messages_keep_their_facts(lecture):
    res = run(lecture, 0.01, tol=1e-3)
    assert res.status == "converged" and res.verdict == "converged"
    assert "Stopped: the full-data gradient norm" in res.message and "within tol 0.001" in res.message
    assert "minimum only as far as tol allows" in res.message  # 1e-3 is not a vanished gradient (15 at the start)


def test_verdict_cost_is_bounded_for_big_problems(rng):
    """A diverged run with 2500 parameters: curvature by 20 Lanczos steps on X (no gradient calls),
    not a Hessian; the loop's boundaries give the gradient norms (one call each)."""
    X = rng.standard_normal((200, 2500))
    obj = ds.LinearRegression(X, X @ rng.standard_normal(2500), bias=False)
    calls = []
    orig = obj.loss_and_grad

    def counting(w, rows=None):
        calls.append(1)
        return orig(w, rows)

    obj.loss_and_grad = counting
    obj.grad = lambda w, rows=None: counting(w, rows)[1]
    res = ds.minimize(obj, np.zeros(2500), optimizer=ds.optim.SGD(lr=1.0), epochs=10, backend="numpy")
    assert res.verdict == "diverged" and "stability limit" in res.message
    assert len(calls) == len(res.history)  # one per boundary; each full-batch step uses its boundary's


def test_verdict_codes_are_the_documented_ones(lecture):
    assert set(diagnose.VERDICTS) == {"converged", "diverged", "oscillating", "too_slow", "stalled", "no_minimum", "ok"}
    res = run(lecture, 0.01)
    assert res.verdict in diagnose.VERDICTS


def test_noisy_sgd_levels_off():
    X, y = ds.datasets.linear(n=200, d=2, noise=1.0, seed=3)
    obj = ds.LinearRegression(X, y)
    res = ds.minimize(obj, np.zeros(3), optimizer=ds.optim.SGD(lr=0.05), batch_size=1, epochs=30, seed=0)
    assert res.verdict in ("ok", "converged")
    if res.verdict == "ok":
        assert "noise of batch gradients" in res.message


# ------------------------------------------------------------------------------------- basins


def test_basins_on_himmelblau_finds_all_four_minima():
    b = diagnose.basins(F.himmelblau, starts=36, optimizer=ds.optim.SGD(lr=0.01), epochs=200)
    assert b.starts.shape == (36, 2) and b.ends.shape == (36, 2)
    assert len(b.reached) == 4 and b.known == 4 and b.diverged == 0
    np.testing.assert_array_equal(np.sort(b.reached, axis=0), np.sort(F.himmelblau.minima, axis=0))
    assert b.counts.sum() == 36 and np.all(b.counts[:4] >= 6)
    # every start's end is within the radius of the point it is labelled with
    assert np.all(np.linalg.norm(b.ends - b.points[b.labels], axis=1) <= b.radius)
    # the symmetric grid of cell centres never starts on a point
    assert not np.any(np.all(np.isclose(b.starts[:, None, :], F.himmelblau.minima[None]), axis=2))


def test_basins_on_the_convex_lecture_cost_has_one_basin(lecture):
    b = diagnose.basins(lecture, bounds=[(-5.0, 9.0)], starts=7, optimizer=ds.optim.SGD(lr=0.05), epochs=200)
    assert len(b.reached) == 1 and b.reached[0, 0] == pytest.approx(2.0, abs=1e-6) and b.counts.max() == 7


def test_basins_random_starts_are_seeded_and_errors():
    a = diagnose.basins(F.booth, starts=5, grid=False, seed=4, epochs=5)
    b = diagnose.basins(F.booth, starts=5, grid=False, seed=4, epochs=5)
    np.testing.assert_array_equal(a.starts, b.starts)
    with pytest.raises(ParameterError, match="starts must have 2 columns"):
        diagnose.basins(F.booth, starts=np.zeros((3, 3)))
    with pytest.raises(ParameterError, match="low < high"):
        diagnose.basins(F.booth, bounds=[(1, 0), (0, 1)])

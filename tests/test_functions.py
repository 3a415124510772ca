"""The test landscapes: exact derivatives against central differences, documented special points."""

import math

import numpy as np
import pytest

import descend as ds
from descend import functions as F
from descend.errors import ParameterError

ALL = list(F.NAMES.values())


def _fd_grad(f, w, h=1e-6):
    return np.array([(f.loss(w + h * e) - f.loss(w - h * e)) / (2 * h) for e in np.eye(2)])


def _fd_hess(f, w, h=1e-6):
    return np.array([(f.grad(w + h * e) - f.grad(w - h * e)) / (2 * h) for e in np.eye(2)]).T


@pytest.mark.parametrize("f", ALL, ids=lambda f: f.name)
def test_gradient_and_hessian_match_central_differences(f, rng):
    (a, b), (c, d) = f.bounds
    for _ in range(25):
        w = np.array([rng.uniform(a, b), rng.uniform(c, d)])
        g_fd, H_fd = _fd_grad(f, w), _fd_hess(f, w)
        scale_g = max(1.0, np.abs(g_fd).max())
        scale_h = max(1.0, np.abs(H_fd).max())
        np.testing.assert_allclose(f.grad(w), g_fd, rtol=0, atol=1e-6 * scale_g)
        np.testing.assert_allclose(f.hessian(w), H_fd, rtol=0, atol=1e-6 * scale_h)
        assert np.array_equal(f.hessian(w), f.hessian(w).T)


@pytest.mark.parametrize("f", ALL, ids=lambda f: f.name)
def test_loss_many_matches_loss(f, rng):
    (a, b), (c, d) = f.bounds
    W = np.column_stack([rng.uniform(a, b, 40), rng.uniform(c, d, 40)])
    np.testing.assert_allclose(f.loss_many(W), [f.loss(w) for w in W], rtol=1e-14, atol=1e-12)
    xs, ys, Z = f.surface(num=7)
    assert Z.shape == (7, 7) and Z[2, 5] == pytest.approx(f.loss([xs[5], ys[2]]), rel=1e-14, abs=1e-14)


DOCUMENTED = [  # (landscape, a documented global minimum, its value) from the literature
    (F.rosenbrock, (1, 1), 0.0), (F.rastrigin, (0, 0), 0.0), (F.himmelblau, (3, 2), 0.0),
    (F.himmelblau, (-2.805118, 3.131312), 0.0), (F.himmelblau, (-3.779310, -3.283186), 0.0),
    (F.himmelblau, (3.584428, -1.848126), 0.0), (F.beale, (3, 0.5), 0.0), (F.booth, (1, 3), 0.0),
    (F.ackley, (0, 0), 0.0), (F.six_hump_camel, (0.0898, -0.7126), -1.0316), (F.six_hump_camel, (-0.0898, 0.7126), -1.0316),
]


@pytest.mark.parametrize("f, point, value", DOCUMENTED, ids=lambda x: getattr(x, "name", ""))
def test_documented_minima_have_their_value_and_zero_gradient(f, point, value):
    # the stored minimum is the documented one (to its printed digits) ...
    d = np.linalg.norm(f.minima - np.array(point), axis=1)
    m = f.minima[np.argmin(d)]
    assert d.min() < 1e-4
    # ... with the documented value and a vanishing gradient
    assert f.loss(m) == pytest.approx(value, abs=1e-4)
    assert f.min_value == pytest.approx(value, abs=1e-4)
    assert np.linalg.norm(f.grad(m)) < 1e-9
    assert ds.diagnose.classify(f, m) == "minimum"


@pytest.mark.parametrize("f", ALL, ids=lambda f: f.name)
def test_every_listed_special_point_is_critical_and_of_its_kind(f):
    for attr, kind in (("minima", "minimum"), ("local_minima", "minimum"), ("saddles", None), ("maxima", "maximum")):
        for p in getattr(f, attr):
            assert np.linalg.norm(f.grad(p)) < 1e-8, (f.name, attr, p)
            expected = kind or ("degenerate" if f is F.monkey_saddle else "saddle")
            assert ds.diagnose.classify(f, p) == expected, (f.name, attr, p)
        if attr in ("minima", "local_minima") and len(getattr(f, attr)):
            assert np.all([f.loss(p) >= f.min_value - 1e-12 for p in getattr(f, attr)])


def test_known_counts_of_special_points():
    assert len(F.himmelblau.minima) == 4 and len(F.himmelblau.saddles) == 4 and len(F.himmelblau.maxima) == 1
    np.testing.assert_allclose(F.himmelblau.maxima[0], [-0.270845, -0.923039], atol=1e-6)
    assert len(F.six_hump_camel.minima) == 2 and len(F.six_hump_camel.local_minima) == 4
    # Rastrigin: 11 x 11 minima in [-5.12, 5.12]^2, each pulled slightly towards 0 from an integer point
    assert len(F.rastrigin.known_minima) == 121
    off = F.rastrigin.local_minima - np.round(F.rastrigin.local_minima)
    assert np.all(np.abs(off) < 0.03) and np.all(off * np.round(F.rastrigin.local_minima) <= 0)


def test_rastrigin_formula_with_other_A():
    f = F.Rastrigin(A=3.0)
    x, y = 0.3, -1.2
    assert f.loss([x, y]) == pytest.approx(6 + x * x - 3 * math.cos(2 * math.pi * x) + y * y - 3 * math.cos(2 * math.pi * y))
    assert F.Rosenbrock(a=2.0, b=10.0).loss([2.0, 4.0]) == 0.0


def test_ackley_origin_is_the_minimum_with_a_zero_subgradient():
    assert F.ackley.loss([0, 0]) == pytest.approx(0.0, abs=1e-14)
    assert np.array_equal(F.ackley.grad([0.0, 0.0]), [0.0, 0.0])
    assert np.all(np.isfinite(F.ackley.hessian([0.0, 0.0])))


def test_landscapes_work_with_minimize_one_step_per_epoch():
    res = ds.minimize(F.booth, [-8.0, -6.0], optimizer=ds.optim.SGD(lr=0.02), epochs=300)
    assert res.steps == 300 and len(res.history.w) == 301
    np.testing.assert_allclose(res.w, [1, 3], atol=1e-8)
    # a hand-worked first step: grad at (0, 0) of Booth is (2*-7 + 4*-5, 4*-7 + 2*-5) = (-34, -38)
    one = ds.minimize(F.booth, [0.0, 0.0], optimizer=ds.optim.SGD(lr=0.01), epochs=1)
    np.testing.assert_allclose(one.history.w[1], [0.34, 0.38], rtol=1e-14)


def test_get_and_errors():
    assert F.get("Six-Hump-Camel") is F.six_hump_camel and F.get("rosenbrock") is F.rosenbrock
    with pytest.raises(ParameterError, match="unknown landscape 'nope'; choose one of rosenbrock, rastrigin"):
        F.get("nope")
    with pytest.raises(ParameterError, match="no rows"):
        F.saddle.loss([0, 0], rows=[0])
    with pytest.raises(ParameterError, match="2 parameters"):
        ds.minimize(F.saddle, [1.0, 2.0, 3.0])


def test_trajectories_use_per_function_defaults():
    runs = F.trajectories(F.booth, ["sgd", "adam"], steps=5)
    assert [r.label for r in runs] == ["sgd (lr=0.02)", "adam (lr=0.5)"]
    assert all(r.epochs == 5 and np.array_equal(r.history.w[0], F.booth.start) for r in runs)
    assert F.trajectories(F.booth, "momentum", lr=0.003, steps=2)[0].optimizer.momentum == 0.9

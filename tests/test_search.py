"""Brute force and divide and conquer find known optima; refine is far cheaper than one fine grid."""

import numpy as np
import pytest

import descend as ds


def test_grid_on_the_lecture_finds_w_2_and_records_every_evaluation():
    X, y = ds.datasets.lecture()
    obj = ds.LinearRegression(X, y, bias=False)
    res = ds.search.grid(obj, bounds=[(0.0, 4.0)], num=41)
    assert res.w[0] == pytest.approx(2.0) and res.loss == pytest.approx(0.0, abs=1e-24)
    np.testing.assert_allclose(res.points[:, 0], np.linspace(0, 4, 41))
    np.testing.assert_allclose(res.losses, 7.5 * (res.points[:, 0] - 2) ** 2, rtol=1e-12, atol=1e-24)


def test_grid_over_two_weights_matches_a_naive_loop(rng):
    X, y = ds.datasets.linear(40, 1, noise=0.1, bias=1.0, seed=1)
    obj = ds.LinearRegression(X, y, bias=True)
    res = ds.search.grid(obj, bounds=[(-3, 3), (-2, 2)], num=13)
    naive = [(obj.loss([a, b]), a, b) for a in np.linspace(-3, 3, 13) for b in np.linspace(-2, 2, 13)]
    np.testing.assert_allclose(res.losses, [t[0] for t in naive], rtol=1e-12)
    best = min(naive)
    assert res.loss == pytest.approx(best[0]) and tuple(res.w) == pytest.approx(best[1:])


def test_refine_finds_the_least_squares_optimum_with_far_fewer_evaluations():
    X, y = ds.datasets.linear(100, 1, noise=0.2, bias=-1.3, seed=2)
    obj = ds.LinearRegression(X, y, bias=True)
    res = ds.search.refine(obj, bounds=[(-10, 10), (-10, 10)], num=11, rounds=8)
    np.testing.assert_allclose(res.w, obj.solution(), atol=20 / 10 / 5**7)
    # final spacing is 20 / 10 / 5^7; one grid at that spacing needs (10 * 5^7 + 1)^2 points
    one_grid = (10 * 5**7 + 1) ** 2
    assert res.evaluations == 8 * 11**2 and res.evaluations < one_grid / 1e6
    assert len(res.points) == len(res.losses) == res.evaluations


def test_refine_can_miss_the_global_minimum_of_a_non_convex_cost():
    # two valleys: a wide shallow one at w = -3 that the coarse grid samples well, and the
    # deeper but narrow one at w = 3.3 that falls between coarse points
    f = ds.Function(lambda w: -np.exp(-(w[0] + 3) ** 2 / 8) - 2 * np.exp(-(w[0] - 3.3) ** 2 / 0.01))
    coarse = ds.search.refine(f, bounds=[(-10, 10)], num=11, rounds=5)
    fine = ds.search.grid(f, bounds=[(-10, 10)], num=20001)
    assert coarse.w[0] == pytest.approx(-3, abs=0.01)
    assert fine.w[0] == pytest.approx(3.3, abs=0.01) and fine.loss < coarse.loss


@pytest.mark.parametrize("bounds, match", [
    ([(1.0, 0.0)], "low < high"),
    ([(0.0, 1.0), (0.0, 1.0)], "bounds has 2 pairs but the objective has 1"),
    ("abc", "pairs"),
])
def test_bad_bounds(bounds, match):
    X, y = ds.datasets.lecture()
    with pytest.raises(ds.ParameterError, match=match):
        ds.search.grid(ds.LinearRegression(X, y, bias=False), bounds=bounds)

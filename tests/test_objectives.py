"""Objectives: analytic gradients against central differences; validation at construction."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import descend as ds
from conftest import central_diff




floats = st.floats(-3, 3, allow_nan=False, allow_infinity=False)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 12), d=st.integers(1, 4), bias=st.booleans(), seed=st.integers(0, 2**31), data=st.data())
def test_linear_gradient_matches_central_differences(n, d, bias, seed, data):
    X = data.draw(hnp.arrays(np.float64, (n, d), elements=floats))
    y = data.draw(hnp.arrays(np.float64, (n,), elements=floats))
    obj = ds.LinearRegression(X, y, bias=bias)
    w = np.random.default_rng(seed).standard_normal(obj.n_params)
    rows = np.random.default_rng(seed + 1).choice(n, size=max(1, n // 2), replace=False)
    for r in (None, rows):
        g = obj.grad(w, r)
        ref = central_diff(lambda v: obj.loss(v, r), w)
        np.testing.assert_allclose(g, ref, rtol=1e-5, atol=1e-5)
        loss, g2 = obj.loss_and_grad(w, r)
        assert loss == pytest.approx(obj.loss(w, r), rel=1e-14)
        np.testing.assert_array_equal(g, g2)


def test_linear_loss_is_the_plain_mean_squared_error(rng):
    X = rng.standard_normal((30, 3))
    y = rng.standard_normal(30)
    w = rng.standard_normal(4)
    obj = ds.LinearRegression(X, y, bias=True)
    naive = sum((sum(X[i, j] * w[j] for j in range(3)) + w[3] - y[i]) ** 2 for i in range(30)) / 30
    assert obj.loss(w) == pytest.approx(naive, rel=1e-12)
    np.testing.assert_allclose(obj.loss_many(np.stack([w, 2 * w])), [obj.loss(w), obj.loss(2 * w)], rtol=1e-12)
    assert obj.n_params == 4 and obj.n_samples == 30


def test_hessian_of_linear_regression_is_exact(rng):
    X = rng.standard_normal((20, 2))
    obj = ds.LinearRegression(X, rng.standard_normal(20), bias=True)
    H = obj.hessian()
    num = ds.objectives.Objective.hessian(obj, np.zeros(3))
    np.testing.assert_allclose(H, num, rtol=1e-6, atol=1e-6)


def test_function_central_differences_and_given_gradient():
    f = lambda w: (w[0] - 1) ** 2 + 3 * np.sin(w[1])  # noqa: E731
    fd = ds.Function(f)
    exact = ds.Function(f, grad=lambda w: np.array([2 * (w[0] - 1), 3 * np.cos(w[1])]))
    w = np.array([0.3, -0.7])
    np.testing.assert_allclose(fd.grad(w), exact.grad(w), rtol=1e-8, atol=1e-9)
    assert fd.n_samples is None
    with pytest.raises(ds.ParameterError, match="no rows"):
        fd.loss(w, rows=[0])


@pytest.mark.parametrize(
    "X, y, match",
    [
        (np.array([[1.0], [np.nan]]), np.array([1.0, 2.0]), r"X has a non-finite value .* row 1, column 0"),
        (np.array([[1.0], [2.0]]), np.array([1.0, np.inf]), r"y has a non-finite value .* row 1"),
        (np.ones((3, 2)), np.ones(2), "X has 3 rows but y has 2"),
        (np.ones((0, 2)), np.ones(0), "empty"),
        (np.ones((2, 2, 2)), np.ones(2), "2-D"),
        (np.array([["a"], ["b"]]), np.ones(2), "numeric"),
    ],
)
def test_bad_data_is_named(X, y, match):
    with pytest.raises(ds.DataError, match=match):
        ds.LinearRegression(X, y)


def test_wrong_w_length_is_named():
    X, y = ds.datasets.lecture()
    obj = ds.LinearRegression(X, y, bias=True)
    with pytest.raises(ds.ParameterError, match=r"w0 has 1 values but the objective has 2 parameters"):
        ds.minimize(obj, [1.0])


def test_lstsq_solution_has_zero_gradient(rng):
    X, y = ds.datasets.linear(200, 4, noise=0.5, bias=1.5, seed=3)
    obj = ds.LinearRegression(X, y)
    w = obj.solution()
    assert np.linalg.norm(obj.grad(w)) < 1e-10

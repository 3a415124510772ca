"""Logistic regression: gradient by central differences, stability, errors, and scikit-learn's optimum."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

import descend as ds
from conftest import central_diff
from descend.errors import DataError




finite = st.floats(-4, 4, allow_nan=False, allow_infinity=False)


@st.composite
def problems(draw):
    n = draw(st.integers(1, 12))
    d = draw(st.integers(1, 4))
    X = draw(arrays(np.float64, (n, d), elements=finite))
    y = draw(arrays(np.float64, n, elements=st.sampled_from([0.0, 1.0])))
    bias = draw(st.booleans())
    w = draw(arrays(np.float64, d + bias, elements=st.floats(-2, 2)))
    rows = draw(st.none() | st.lists(st.integers(0, n - 1), min_size=1, max_size=n).map(np.array))
    return X, y, bias, w, rows


@settings(max_examples=60, deadline=None)
@given(problems())
def test_gradient_matches_central_differences(problem):
    X, y, bias, w, rows = problem
    obj = ds.LogisticRegression(X, y, bias=bias)
    g = obj.grad(w, rows)
    fd = central_diff(lambda v: obj.loss(v, rows), w)
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7)
    loss, g2 = obj.loss_and_grad(w, rows)
    assert loss == obj.loss(w, rows) and np.array_equal(g, g2)


@settings(max_examples=30, deadline=None)
@given(problems())
def test_hessian_matches_central_differences_of_the_gradient(problem):
    X, y, bias, w, _ = problem
    obj = ds.LogisticRegression(X, y, bias=bias)
    H = obj.hessian(w)
    fd = np.column_stack([central_diff(lambda v: obj.grad(v)[j], w) for j in range(w.size)])
    np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-7)


def test_loss_by_hand():
    # z = [0, 2]; y = [1, 0]: mean(log 2, log(1 + e^2)) ; grad = mean((sigmoid(z) - y) x)
    obj = ds.LogisticRegression(np.array([[0.0], [1.0]]), np.array([1, 0]), bias=False)
    assert obj.loss(np.array([2.0])) == pytest.approx((np.log(2) + np.log1p(np.exp(2))) / 2, rel=1e-15)
    assert obj.grad(np.array([2.0]))[0] == pytest.approx((1 / (1 + np.exp(-2))) / 2, rel=1e-15)
    np.testing.assert_allclose(obj.predict_proba(np.array([2.0])), [0.5, 1 / (1 + np.exp(-2))], rtol=1e-15)


def test_no_overflow_for_huge_decision_values():
    # z = X w = [1e4, -1e4, 2e4, -800]; y = [0, 1, 1, 0]: the first two are wrong by 1e4 each,
    # the last two right by far. exp(800) alone would overflow in a naive formula.
    X = np.array([[1000.0], [-1000.0], [2000.0], [-80.0]])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    obj = ds.LogisticRegression(X, y, bias=False)
    w = np.array([10.0])
    loss, g = obj.loss_and_grad(w)  # warnings are errors in this suite: any overflow would fail here
    assert loss == pytest.approx(2e4 / 4, rel=1e-15)
    # sigmoid(z) - y = [1, -1, 0, 0]: grad = (1000 + 1000) / 4
    assert g[0] == pytest.approx(500.0, rel=1e-15)
    assert np.all(np.isfinite(obj.hessian(w)))
    p = obj.predict_proba(w)
    assert np.array_equal(p, [1.0, 0.0, 1.0, 0.0])
    assert np.all(np.isfinite(obj.loss_many(np.array([[10.0], [-10.0], [1e6]]))))


def test_loss_many_equals_loss():
    X, y = ds.datasets.classification(n=50, d=3, seed=2)
    obj = ds.LogisticRegression(X, y)
    W = np.random.default_rng(0).standard_normal((7, 4))
    np.testing.assert_allclose(obj.loss_many(W), [obj.loss(w) for w in W], rtol=1e-13)


@pytest.mark.parametrize(("y", "where", "value"), [([0, 1, 2, 1], 2, "2"), ([0.5, 0, 1, 1], 0, "0.5"),
                                                   ([1, 0, 1, -1], 3, "-1")])
def test_labels_must_be_zero_or_one(y, where, value):
    with pytest.raises(DataError, match=rf"y\[{where}\] is {value}\b"):
        ds.LogisticRegression(np.ones((4, 1)), np.array(y, dtype=float))


def test_boolean_labels_are_accepted():
    obj = ds.LogisticRegression(np.ones((3, 1)), np.array([True, False, True]))
    assert obj.loss(np.zeros(2)) == pytest.approx(np.log(2))


def _breast_cancer(features=slice(None)):
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    X = X[:, features]
    return (X - X.mean(0)) / X.std(0), y


def _sklearn_unpenalised(X, y, tol=1e-4):
    from sklearn.linear_model import LogisticRegression

    # C=inf is scikit-learn 1.8+'s spelling of penalty=None (which now warns as deprecated)
    sk = LogisticRegression(C=np.inf, max_iter=10_000, tol=tol).fit(X, y)
    return np.append(sk.coef_.ravel(), sk.intercept_)


def test_breast_cancer_reaches_scikit_learns_loss():
    """The ten "mean" features of breast-cancer (standardised): a finite optimum, which descend
    reaches within 1% of scikit-learn's (loss computed with descend's objective at sklearn's coef)."""
    X, y = _breast_cancer(slice(0, 10))
    obj = ds.LogisticRegression(X, y)
    ref = obj.loss(_sklearn_unpenalised(X, y, tol=1e-8))
    for opt in (ds.optim.Adam(lr=0.1), ds.optim.SGD(lr=1.0, momentum=0.9, nesterov=True)):
        res = ds.minimize(obj, np.zeros(obj.n_params), optimizer=opt, epochs=2000)
        assert res.status == "max_epochs"
        assert ref <= res.loss <= 1.01 * ref, (opt, res.loss, ref)


def test_breast_cancer_all_features_is_separable():
    """All 30 features (standardised) separate the classes: the unpenalised loss has no minimiser,
    scikit-learn's answer is whatever its tol gives, and gradient descent keeps lowering the loss."""
    X, y = _breast_cancer()
    obj = ds.LogisticRegression(X, y)
    w_sk = _sklearn_unpenalised(X, y, tol=1e-8)
    assert np.all((obj.decision(w_sk) > 0) == (y == 1))  # a separating hyperplane: every row right
    assert obj.loss(w_sk) < 1e-6 and np.abs(w_sk).max() > 1e3  # far out, loss near its infimum 0
    res = ds.minimize(obj, np.zeros(obj.n_params), optimizer=ds.optim.SGD(lr=1.0), epochs=300)
    assert np.all(np.diff(res.history.epoch_loss) < 0)  # and descent keeps going down

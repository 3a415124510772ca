"""The lecture's numbers, worked by hand: cost(w) = 7.5 (w - 2)^2, gradient 15 (w - 2)."""

import numpy as np
import pytest

import descend as ds


@pytest.fixture
def lecture():
    X, y = ds.datasets.lecture()
    return ds.LinearRegression(X, y, bias=False)


def test_data_is_the_lecture():
    X, y = ds.datasets.lecture()
    assert X.shape == (4, 1) and y.shape == (4,)
    np.testing.assert_array_equal(X[:, 0], [1, 2, 3, 4])
    np.testing.assert_array_equal(y, [2, 4, 6, 8])


def test_cost_is_7_5_times_squared_distance(lecture):
    for w in (-3.0, 0.0, 1.0, 2.0, 2.5, 10.0):
        assert lecture.loss([w]) == pytest.approx(7.5 * (w - 2) ** 2, rel=1e-14, abs=1e-14)
        assert lecture.grad([w])[0] == pytest.approx(15 * (w - 2), rel=1e-14, abs=1e-14)


def test_full_batch_gd_contracts_by_0_85_every_epoch(lecture):
    res = ds.minimize(lecture, [1.0], optimizer=ds.optim.SGD(lr=0.01), batch_size=None, epochs=100)
    k = np.arange(101)
    # exact up to rounding: each step adds an absolute error of about eps * |w| to w, which the
    # contraction keeps below ~1e-14; late in the run (w - 2 ~ 1e-7) that is what limits the loss
    np.testing.assert_allclose(res.history.w[:, 0] - 2, -(0.85**k), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(res.history.epoch_loss, 7.5 * 0.85 ** (2 * k), rtol=1e-12, atol=1e-18)
    assert res.status == "max_epochs"
    assert len(res.history.step_loss) == 100  # one step per epoch


def test_sequential_sgd_epoch_factor(lecture):
    res = ds.minimize(lecture, [1.0], optimizer=ds.optim.SGD(lr=0.01), batch_size=1, shuffle=False, epochs=1)
    # each sample's loss (x w - y)^2 = x^2 (w - 2)^2 has gradient 2 x^2 (w - 2)
    factor = (1 - 0.02) * (1 - 0.08) * (1 - 0.18) * (1 - 0.32)
    assert res.w[0] - 2 == pytest.approx(-factor, rel=1e-14)
    assert len(res.history.step_loss) == 4


def test_sequential_minibatch_of_two_epoch_factor(lecture):
    res = ds.minimize(lecture, [1.0], optimizer=ds.optim.SGD(lr=0.01), batch_size=2, shuffle=False, epochs=1)
    # batch {1, 2}: gradient (2/2)(1 + 4)(w - 2) = 5 (w - 2); batch {3, 4}: 25 (w - 2)
    assert res.w[0] - 2 == pytest.approx(-0.95 * 0.75, rel=1e-14)
    np.testing.assert_allclose(res.history.step_loss, [2.5 * 1.0, 12.5 * 0.95**2], rtol=1e-14)


def test_stable_rate_boundary(lecture):
    below = ds.minimize(lecture, [1.0], optimizer=ds.optim.SGD(lr=0.13), epochs=200)
    above = ds.minimize(lecture, [1.0], optimizer=ds.optim.SGD(lr=0.14), epochs=200)
    assert below.status == "max_epochs" and abs(below.w[0] - 2) < 1e-3
    assert above.status == "diverged"

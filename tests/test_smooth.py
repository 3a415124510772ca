"""smooth() against a plain transcription of TensorBoard's classic smoothing loop."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import descend as ds


def tensorboard_reference(ys, weight):
    # vz_line_chart2 / classicSmoothing, transcribed literally
    last = 0.0 if len(ys) > 0 else math.nan
    num_accum = 0
    is_constant = all(v == ys[0] for v in ys)
    out = []
    for v in ys:
        if is_constant or not math.isfinite(v):
            out.append(v)
        else:
            last = last * weight + (1 - weight) * v
            num_accum += 1
            debias = 1.0
            if weight != 1.0:
                debias = 1.0 - weight**num_accum
            out.append(last / debias)
    return out


values = st.one_of(st.floats(-1e6, 1e6), st.just(math.nan), st.just(math.inf), st.just(-math.inf))


@settings(max_examples=200, deadline=None)
@given(ys=st.lists(values, max_size=40), weight=st.floats(0, 1))
def test_point_for_point_equal_to_tensorboard(ys, weight):
    got = ds.smooth(ys, weight)
    ref = tensorboard_reference(ys, weight)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0, equal_nan=True)


def test_first_point_exact_and_constant_unchanged():
    assert ds.smooth([3.0, 10.0], 0.9)[0] == 3.0
    np.testing.assert_array_equal(ds.smooth([2.5] * 7, 0.6), [2.5] * 7)


def test_non_finite_passed_through_without_advancing():
    out = ds.smooth([1.0, math.nan, 3.0, math.inf], 0.5)
    assert math.isnan(out[1]) and out[3] == math.inf
    # the NaN does not count: the 3.0 is the second accumulated value
    assert out[2] == pytest.approx((0.5 * 0.5 * 1 + 0.5 * 3.0) / (1 - 0.25))


def test_weight_is_clamped():
    ys = [1.0, 4.0, 2.0]
    np.testing.assert_array_equal(ds.smooth(ys, -1.0), ys)
    np.testing.assert_array_equal(ds.smooth(ys, 5.0), ds.smooth(ys, 1.0))

import numpy as np
import pytest

import descend as ds


def test_linear_is_reproducible_and_matches_its_coefficients():
    X, y, w = ds.datasets.linear(500, 3, noise=0.0, bias=2.0, seed=4, return_coef=True)
    X2, y2 = ds.datasets.linear(500, 3, noise=0.0, bias=2.0, seed=4)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_allclose(X @ w[:3] + w[3], y, rtol=1e-12)


def write(tmp_path, text, name="d.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_read_csv_selects_columns(tmp_path):
    p = write(tmp_path, "a,b,target\n1,2,3\n4,5,6\n7,8,9\n")
    X, y, names = ds.datasets.read_csv(p, "target")
    assert names == ["a", "b"] and X.shape == (3, 2)
    np.testing.assert_array_equal(y, [3, 6, 9])
    X, y, names = ds.datasets.read_csv(p, "target", features=["b"])
    np.testing.assert_array_equal(X[:, 0], [2, 5, 8])


@pytest.mark.parametrize("text, kwargs, error, match", [
    ("a,t\n1,2\nx,3\n", {}, ds.DataError, r"row 2, column 'a' is not a finite number \('x'\)"),
    ("a,t\n1,2\n,3\n", {}, ds.DataError, r"row 2, column 'a' is empty"),
    ("a,t\n1,2\n2,NaN\n", {}, ds.DataError, r"row 2, column 't'"),
    ("a,t\n1,2\n", {}, ds.DataError, "at least 2 data rows"),
    ("a,t\n1,2\n3,4\n", {"target": "zz"}, ds.ParameterError, "no column named 'zz'"),
    ("a,t\n1,2\n3,4\n", {"features": ["q"]}, ds.ParameterError, "no column named 'q'"),
    ("", {}, ds.DataError, "empty"),
])
def test_read_csv_errors_name_the_place(tmp_path, text, kwargs, error, match):
    p = write(tmp_path, text)
    kwargs = {"target": "t", **kwargs}
    with pytest.raises(error, match=match) as info:
        ds.datasets.read_csv(p, **kwargs)
    assert str(p) in str(info.value)


def test_read_csv_missing_file(tmp_path):
    with pytest.raises(ds.DataError, match="no such file"):
        ds.datasets.read_csv(tmp_path / "nope.csv", "t")

"""Properties (Hypothesis): random CSV text and random arguments never crash the reader or `fit`.

Whatever the file or the options, the outcome is a result or one clean error: the reader
returns a Table or raises DataError/ParameterError; ``descend fit`` exits 0, or exits 1/2
with exactly one ``error:`` line on stderr, never a traceback and never an internal error.
Each example is small and bounded in time (deadline), and the number of examples is fixed.
"""

from __future__ import annotations

import atexit
import io
import json
import shutil
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import descend as ds
from descend.cli import main
from descend.errors import DescendError

TMP = Path(tempfile.mkdtemp(prefix="descend-props-"))
atexit.register(shutil.rmtree, TMP, True)

GOOD_CELLS = ["0", "1", "-1", "2.5", "-3e2", "0.125", " 7 ", "1e-5", "42"]
BAD_CELLS = ["1e308", "-1e308", "1e-320", "", " ", "nan", "NaN", "inf", "-inf", "x", "yes", "no", "1,5", '"4"',
             '"a,b"', "0x10", "1_000", "\t8", "１", "NA", "null", "True"]
WEIRD_NAMES = ["", " y", "y ", "a", "é", '"y"', "y;z", "b"]


@st.composite
def csv_texts(draw):
    """A header and rows from awkward cells and names, with a random delimiter and line ends."""
    sep = draw(st.sampled_from([",", ",", ",", ";", "\t"]))
    header = draw(st.permutations(["a", "b", "y", "c"]))[: draw(st.integers(1, 4))]
    if draw(st.integers(0, 4)) == 0:  # now and then a strange or duplicated name
        header[draw(st.integers(0, len(header) - 1))] = draw(st.sampled_from(WEIRD_NAMES))
    ncol = len(header)
    bad_rate = draw(st.sampled_from([0.0, 0.0, 0.05, 0.3]))
    cells = st.one_of(st.sampled_from(GOOD_CELLS), st.sampled_from(BAD_CELLS)) if bad_rate else \
        st.sampled_from(GOOD_CELLS)
    nrow = draw(st.integers(0, 6))
    rows = []
    for _ in range(nrow):
        width = ncol + draw(st.sampled_from([0] * 12 + [-1, 1]))
        rows.append(sep.join(draw(st.sampled_from(GOOD_CELLS)) if draw(st.floats(0, 1)) >= bad_rate
                             else draw(cells) for _ in range(max(width, 0))))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    trailing = draw(st.sampled_from(["", "", sep]))
    text = end.join(line + trailing for line in [sep.join(header), *rows])
    if draw(st.booleans()):
        text += end
    return text


def _write(text: str, binary: bytes | None = None) -> Path:
    p = Path(tempfile.mkstemp(suffix=".csv", dir=TMP)[1])
    if binary is not None:
        p.write_bytes(binary)
    else:
        p.write_text(text, encoding="utf-8")
    return p


@settings(max_examples=150, deadline=5000, suppress_health_check=[HealthCheck.too_slow])
@given(text=csv_texts(), target=st.sampled_from(["y", "a", "b", "z"]), labels=st.booleans())
def test_the_reader_returns_a_table_or_one_clean_error(text, target, labels):
    p = _write(text)
    try:
        t = ds.datasets.load_csv(p, target, labels=labels)
    except DescendError as exc:  # DataError or ParameterError: one sentence naming the file
        msg = str(exc)
        assert str(p) in msg and "\n" not in msg
        return
    assert t.X.dtype == np.float64 and t.X.ndim == 2 and t.X.shape[0] == len(t.y) >= 2
    assert np.isfinite(t.X).all() and np.isfinite(t.y).all()
    if labels:
        assert set(np.unique(t.y)) <= {0.0, 1.0}


@settings(max_examples=60, deadline=5000, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=200))
def test_the_reader_survives_random_bytes(data):
    p = _write("", binary=data)
    try:
        ds.datasets.load_csv(p, "y")
    except DescendError as exc:
        assert "\n" not in str(exc)


GOOD = None


def _good_file() -> Path:
    global GOOD
    if GOOD is None:
        rng = np.random.default_rng(0)
        X = rng.standard_normal((30, 2))
        y = (X @ [1.0, -1.0] > 0).astype(int)
        GOOD = _write("a,b,y\n" + "\n".join(f"{a:.6f},{b:.6f},{c}" for (a, b), c in zip(X, y)) + "\n")
    return GOOD


NUMBERS = ["0", "1", "2", "-1", "0.5", "1e-3", "1e300", "inf", "-inf", "nan", "x", "", "3.7", "1e30", "-0"]
FINE = ["0.01", "0.1", "0.5", "1", "2", "3", "0.9"]  # mostly valid values, so runs happen too
NUMBERS = NUMBERS + FINE * 3
OPTIONS = {
    "--lr": NUMBERS, "--epochs": ["0", "1", "2", "-1", "x", "1.5", "3", "2", "1"], "--batch-size": NUMBERS + ["31", "30"],
    "--seed": NUMBERS + ["9223372036854775808"], "--tol": NUMBERS, "--momentum": NUMBERS, "--beta1": NUMBERS,
    "--eps": NUMBERS, "--weight-decay": NUMBERS, "--gamma": NUMBERS, "--step-size": NUMBERS, "--t-max": NUMBERS,
    "--warmup-steps": NUMBERS, "--optimizer": ["sgd", "adam", "nesterov", "momentum", "bogus", "ADAM"],
    "--schedule": ["constant", "step", "cosine", "warmup", "exponential", "invscaling", "bogus"],
    "--model": ["linear", "logistic", "svm"], "--features": ["a", "a,b", "b,a", "", "q", "a,a", "y"],
    "--target": ["y", "a", "nope"],
}
FLAGS = ["--no-shuffle", "--no-bias", "--quiet", "--nesterov", "--amsgrad", "--centered"]


@st.composite
def fit_args(draw):
    args = ["fit", str(_good_file())]
    if draw(st.integers(0, 9)):
        args += ["--target", "y"]
    for opt in draw(st.lists(st.sampled_from(sorted(OPTIONS)), max_size=3, unique=True)):
        args += [opt, draw(st.sampled_from(OPTIONS[opt]))]
    args += draw(st.lists(st.sampled_from(FLAGS), max_size=1, unique=True))
    if "--epochs" not in args:
        args += ["--epochs", "2"]
    return args


@settings(max_examples=80, deadline=10000, suppress_health_check=[HealthCheck.too_slow])
@given(args=fit_args(), as_json=st.booleans())
def test_fit_gives_a_result_or_one_clean_error(args, as_json):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([*args, *(["--json"] if as_json else [])])
    assert code in (0, 1, 2), (code, args)
    if code:
        lines = err.getvalue().strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, err.getvalue())
        assert "internal error" not in lines[0], (args, lines[0])
    elif as_json:
        def refuse(name):
            raise ValueError(name)

        js = json.loads(out.getvalue(), parse_constant=refuse)
        assert js["status"] in ("converged", "max_epochs", "diverged", "stopped")


VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 5), st.sampled_from([0.5, -1.0, 1e300, float("nan"),
                                                                                  float("inf"), 2**70]),
                   st.sampled_from(["full", "block", "x", "", "1"]), st.just([1.0, 2.0]), st.just(object()))


@settings(max_examples=120, deadline=5000, suppress_health_check=[HealthCheck.too_slow])
@given(batch_size=VALUES, epochs=VALUES, seed=VALUES, shuffle=VALUES, tol=VALUES, w0=VALUES, backend=VALUES)
def test_minimize_gives_a_result_or_one_parameter_error(batch_size, epochs, seed, shuffle, tol, w0, backend):
    X, y = ds.datasets.lecture()
    obj = ds.LinearRegression(X, y, bias=True)
    kwargs = dict(batch_size=batch_size, epochs=epochs, seed=seed, shuffle=shuffle, tol=tol, backend=backend)
    kwargs = {k: v for k, v in kwargs.items() if v is not None or k in ("batch_size", "seed", "tol")}
    if isinstance(kwargs.get("epochs"), int) and kwargs["epochs"] > 5:
        kwargs["epochs"] = 5
    try:
        res = ds.minimize(obj, [0.0, 0.0] if w0 is None else w0, **kwargs)
    except DescendError as exc:
        assert "\n" not in str(exc)
        return
    assert res.status in ("converged", "max_epochs", "diverged", "stopped")
    assert np.all(np.isfinite(res.w)) and len(res.w) == 2

"""Bad input never crashes, never lies, never loses a run (issue 12).

A catalogue of bad inputs across the command line and the Python API. Each CLI case asserts
the exit code (2 usage, 1 data), that stderr is exactly one ``error:`` line, and that the
line names the place (file, 1-based row, column, option). Each API case asserts the
exception type and that the message names the argument. The CLI runs in-process through
``descend.cli.main`` (the function ``python -m descend`` calls), so an uncaught exception
fails the test with its traceback; a few cases (Ctrl-C, ``python -m``) use a subprocess.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import pytest

import descend as ds
from descend.cli import main
from descend.errors import DataError, ParameterError

from conftest import ROOT


def run(*argv):
    """(exit code, stdout, stderr) of ``descend ARGV`` run in this process."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def assert_one_error(code, out, err, expected_code, *needles):
    assert code == expected_code, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err + out and "internal error" not in err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def strict_json(text):
    """json.loads that refuses NaN and Infinity (as Node's JSON.parse and jq's strict mode do)."""
    def refuse(name):
        raise ValueError(f"not JSON: {name}")
    return json.loads(text, parse_constant=refuse)


# ------------------------------------------------------------------------------------ the files


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")

    def w(name, text):
        p = d / name
        p.write_text(text)
        return p

    f = {
        "good": w("good.csv", "a,b,y\n1,2,3\n2,3,5\n3,4,7\n4,4,8\n"),
        "nonnum": w("nonnum.csv", "a,b,y\n1,2,3\nx,3,5\n"),
        "emptycell": w("emptycell.csv", "a,b,y\n1,2,3\n2,3,5\n3,,7\n"),
        "nan": w("nan.csv", "a,b,y\n1,2,nan\n2,3,5\n"),
        "inf": w("inf.csv", "a,b,y\n1,2,3\n2,inf,5\n"),
        "decimal_comma": w("decimal_comma.csv", "a;b;y\n1;2;3\n2;2,5;5\n"),
        "onerow": w("onerow.csv", "a,b,y\n1,2,3\n"),
        "header": w("header.csv", "a,b,y\n"),
        "empty": w("empty.csv", ""),
        "dup": w("dup.csv", "a,a,y\n1,2,3\n2,3,5\n3,4,8\n"),
        "bigx": w("bigx.csv", "a,b,y\n1e308,2,3\n2,3,5\n3,4,8\n"),
        "bigy": w("bigy.csv", "a,b,y\n1,2,3e200\n2,3,5\n3,4,8\n"),
        "labels_bad": w("labels_bad.csv", "a,y\n1,0\n2,1\n3,0.5\n"),
        "labels_three": w("labels_three.csv", "a,y\n1,no\n2,yes\n3,maybe\n"),
        "labels_empty": w("labels_empty.csv", "a,y\n1,no\n2,\n3,yes\n"),
        "three_cols": w("three.csv", "a,b,c,y\n1,2,3,4\n2,3,4,5\n3,4,5,7\n"),
        "wide": w("wide.csv", ",".join(f"c{i}" for i in range(2000)) + "\n"
                  + "\n".join(",".join(["1"] * 2000) for _ in range(3)) + "\n"),
    }
    (d / "bin.csv").write_bytes(b"a,y\n\xff\xfe\x00\x01,\x80\n")
    f["binary"] = d / "bin.csv"
    f["dir"] = d
    return f


# (id, argv with {name} for the files and {dir} for the folder, exit code, needles in the line)
CLI = [
    # fit: the file and its cells
    ("missing-file", ["fit", "{dir}/nope.csv", "--target", "y"], 1, ["nope.csv", "no such file"]),
    ("directory", ["fit", "{dir}", "--target", "y"], 1, ["directory"]),
    ("empty-file", ["fit", "{empty}", "--target", "y"], 1, ["empty.csv", "empty"]),
    ("binary-file", ["fit", "{binary}", "--target", "y"], 1, ["bin.csv", "cannot be read"]),
    ("header-only", ["fit", "{header}", "--target", "y"], 1, ["header.csv", "at least 2 data rows", "found 0"]),
    ("one-row", ["fit", "{onerow}", "--target", "y"], 1, ["at least 2 data rows"]),
    ("non-numeric-cell", ["fit", "{nonnum}", "--target", "y"], 1, ["nonnum.csv", "row 2, column 'a'", "'x'"]),
    ("empty-cell", ["fit", "{emptycell}", "--target", "y"], 1, ["row 3, column 'b' is empty"]),
    ("nan-cell", ["fit", "{nan}", "--target", "y"], 1, ["row 1, column 'y'"]),
    ("decimal-comma", ["fit", "{decimal_comma}", "--target", "y"], 1, ["row 2, column 'b'", "'2,5'", "decimal comma"]),
    ("inf-cell", ["fit", "{inf}", "--target", "y"], 1, ["row 2, column 'b'", "'inf'"]),
    ("duplicate-header", ["fit", "{dup}", "--target", "y"], 1, ["dup.csv", "column 'a' twice", "columns 1 and 2"]),
    ("overflowing-feature", ["fit", "{bigx}", "--target", "y"], 1, ["bigx.csv", "column 'a'", "1e+308", "standardise"]),
    ("overflowing-target", ["fit", "{bigy}", "--target", "y"], 1, ["column 'y'", "overflow", "standardise"]),
    ("logistic-bad-label", ["fit", "{labels_bad}", "--target", "y", "--model", "logistic"], 1,
     ["labels_bad.csv", "row 3, column 'y' is 0.5", "0 and 1, -1 and 1, or two names"]),
    ("logistic-third-label", ["fit", "{labels_three}", "--target", "y", "--model", "logistic"], 1,
     ["row 3, column 'y' is 'maybe'", "third label"]),
    ("logistic-empty-label", ["fit", "{labels_empty}", "--target", "y", "--model", "logistic"], 1,
     ["row 2, column 'y' is empty"]),
    # fit: columns
    ("unknown-target", ["fit", "{good}", "--target", "nope"], 2, ["no column named 'nope' (--target)", "a, b, y"]),
    ("misspelt-target-wide", ["fit", "{wide}", "--target", "c1999x"], 2,
     ["no column named 'c1999x'", "did you mean 'c1999'", "2,000 columns"]),
    ("unknown-feature", ["fit", "{good}", "--target", "y", "--features", "a,q"], 2, ["no column named 'q' (--features)"]),
    ("feature-twice", ["fit", "{good}", "--target", "y", "--features", "a,a"], 2, ["--features", "'a' twice"]),
    ("target-as-feature", ["fit", "{good}", "--target", "y", "--features", "a,y"], 2, ["target column 'y'"]),
    ("empty-features", ["fit", "{good}", "--target", "y", "--features", ","], 2, ["--features is empty"]),
    ("no-target", ["fit", "{good}"], 2, ["--target"]),
    # fit: numbers
    ("lr-inf", ["fit", "{good}", "--target", "y", "--lr", "inf"], 2, ["--lr", "finite", "inf"]),
    ("lr-nan", ["fit", "{good}", "--target", "y", "--lr", "nan"], 2, ["--lr", "finite"]),
    ("lr-negative", ["fit", "{good}", "--target", "y", "--lr", "-1"], 2, ["--lr", "> 0"]),
    ("lr-text", ["fit", "{good}", "--target", "y", "--lr", "fast"], 2, ["--lr", "'fast'"]),
    ("epochs-zero", ["fit", "{good}", "--target", "y", "--epochs", "0"], 2, ["--epochs", ">= 1"]),
    ("epochs-fraction", ["fit", "{good}", "--target", "y", "--epochs", "1.5"], 2, ["--epochs", "integer"]),
    ("batch-zero", ["fit", "{good}", "--target", "y", "--batch-size", "0"], 2, ["--batch-size"]),
    ("batch-too-big", ["fit", "{good}", "--target", "y", "--batch-size", "99"], 2, ["--batch-size 99", "4"]),
    ("seed-negative", ["fit", "{good}", "--target", "y", "--seed", "-1", "--batch-size", "1"], 2, ["--seed", "-1"]),
    ("seed-huge", ["fit", "{good}", "--target", "y", "--seed", "1e30"], 2, ["--seed"]),
    ("tol-negative", ["fit", "{good}", "--target", "y", "--tol", "-1"], 2, ["--tol", "> 0"]),
    ("momentum-nan", ["fit", "{good}", "--target", "y", "--momentum", "nan"], 2, ["--momentum", "finite"]),
    ("momentum-for-adam", ["fit", "{good}", "--target", "y", "--optimizer", "adam", "--momentum", "0.9"], 2,
     ["adam", "no momentum"]),
    ("beta1-out-of-range", ["fit", "{good}", "--target", "y", "--optimizer", "adam", "--beta1", "1.5"], 2,
     ["--beta1", "[0, 1)"]),
    ("gamma-for-constant", ["fit", "{good}", "--target", "y", "--gamma", "0.5"], 2, ["constant schedule", "gamma"]),
    ("step-without-size", ["fit", "{good}", "--target", "y", "--schedule", "step"], 2, ["step_size"]),
    ("step-size-zero", ["fit", "{good}", "--target", "y", "--schedule", "step", "--step-size", "0"], 2,
     ["--step-size"]),
    ("t-max-negative", ["fit", "{good}", "--target", "y", "--schedule", "cosine", "--t-max", "-3"], 2, ["--t-max"]),
    ("unknown-optimizer", ["fit", "{good}", "--target", "y", "--optimizer", "lbfgs"], 2, ["--optimizer", "lbfgs"]),
    ("unknown-model", ["fit", "{good}", "--target", "y", "--model", "svm"], 2, ["--model"]),
    ("unknown-option", ["fit", "{good}", "--target", "y", "--lrr", "0.1"], 2, ["--lrr"]),
    # fit: where the figure goes, checked before the fit
    ("plot-unknown-format", ["fit", "{good}", "--target", "y", "--plot", "{dir}/loss.xyz"], 2,
     ["--plot", "loss.xyz", "unknown format '.xyz'", ".png"]),
    ("plot-missing-folder", ["fit", "{good}", "--target", "y", "--plot", "{dir}/nowhere/loss.png"], 2,
     ["--plot", "does not exist"]),
    ("plot-is-a-folder", ["fit", "{good}", "--target", "y", "--plot", "{dir}"], 2, ["--plot", "is a folder"]),
    ("plot-no-extension", ["fit", "{good}", "--target", "y", "--plot", "{dir}/loss"], 2, ["--plot", "no extension"]),
    # lr-find
    ("lrfind-start-zero", ["lr-find", "{good}", "--target", "y", "--start", "0"], 2, ["--start", "> 0"]),
    ("lrfind-end-below-start", ["lr-find", "{good}", "--target", "y", "--end", "1e-9"], 2, ["--end", "--start"]),
    ("lrfind-steps-two", ["lr-find", "{good}", "--target", "y", "--steps", "2"], 2, ["--steps", ">= 3"]),
    ("lrfind-diverge-one", ["lr-find", "{good}", "--target", "y", "--diverge", "1"], 2, ["--diverge", "> 1"]),
    ("lrfind-plot-format", ["lr-find", "{good}", "--target", "y", "--plot", "{dir}/lr.doc"], 2, ["--plot", ".doc"]),
    ("lrfind-overflow", ["lr-find", "{bigx}", "--target", "y"], 1, ["column 'a'", "standardise"]),
    ("lrfind-bad-label", ["lr-find", "{labels_bad}", "--target", "y", "--model", "logistic"], 1,
     ["row 3, column 'y' is 0.5"]),
    # compare
    ("compare-batch-zero", ["compare", "{good}", "--target", "y", "--batch-sizes", "0,full"], 2,
     ["--batch-sizes", "at least 1"]),
    ("compare-batch-text", ["compare", "{good}", "--target", "y", "--batch-sizes", "x"], 2, ["--batch-sizes", "'x'"]),
    ("compare-unknown-optimizer", ["compare", "{good}", "--target", "y", "--optimizers", "sgd,foo"], 2,
     ["--optimizers", "'foo'"]),
    ("compare-target-without-data", ["compare", "--target", "y"], 2, ["--target needs a DATA"]),
    ("compare-data-without-target", ["compare", "{good}"], 2, ["--target"]),
    ("compare-out-format", ["compare", "{good}", "--target", "y", "--out", "{dir}/c.xyz"], 2, ["--out", ".xyz"]),
    ("compare-lr-zero", ["compare", "{good}", "--target", "y", "--lr", "0"], 2, ["--lr"]),
    ("compare-overflow", ["compare", "{bigx}", "--target", "y"], 1, ["column 'a'", "standardise"]),
    # landscape
    ("landscape-unknown", ["landscape", "everest"], 2, ["unknown landscape 'everest'", "rosenbrock"]),
    ("landscape-steps-zero", ["landscape", "booth", "--steps", "0"], 2, ["--steps"]),
    ("landscape-start-one-number", ["landscape", "booth", "--start", "1"], 2, ["--start", "2"]),
    ("landscape-gif-not-gif", ["landscape", "booth", "--gif", "{dir}/a.png"], 2, ["--gif", ".gif"]),
    ("landscape-out-format", ["landscape", "booth", "--out", "{dir}/r.xyz"], 2, ["--out", "r.xyz"]),
    ("landscape-fps-zero", ["landscape", "booth", "--fps", "0"], 2, ["--fps"]),
    ("landscape-no-optimizers", ["landscape", "booth", "--optimizers", ","], 2, ["--optimizers is empty"]),
    ("landscape-lr-inf", ["landscape", "booth", "--lr", "inf"], 2, ["--lr", "finite"]),
    # diagnose
    ("diagnose-lr-text", ["diagnose", "--lr", "0.1,x"], 2, ["--lr", "0.1,x"]),
    ("diagnose-lr-zero", ["diagnose", "--lr", "0"], 2, ["--lr", "> 0"]),
    ("diagnose-target-without-data", ["diagnose", "--target", "y"], 2, ["--target needs a DATA"]),
    ("diagnose-overflow", ["diagnose", "{bigx}", "--target", "y"], 1, ["column 'a'", "standardise"]),
    ("diagnose-epochs-zero", ["diagnose", "--epochs", "0"], 2, ["--epochs"]),
    # search
    ("search-bounds-reversed", ["search", "--bounds", "4:0"], 2, ["--bounds", "'4:0'"]),
    ("search-bounds-count", ["search", "--bounds", "0:1,0:2"], 2, ["--bounds", "2 ranges", "1 weights"]),
    ("search-num-one", ["search", "--num", "1"], 2, ["--num", ">= 2"]),
    ("search-refine-num-two", ["search", "--method", "refine", "--num", "2"], 2, ["--num", "at least 3"]),
    ("search-too-many-points", ["search", "{three_cols}", "--target", "y", "--num", "1000"], 2,
     ["1000 points per weight over 4 weights", "more than"]),
    ("search-plot-three-weights", ["search", "{three_cols}", "--target", "y", "--plot", "{dir}/s.png"], 2,
     ["--plot", "one or two weights", "4"]),
    ("search-unknown-method", ["search", "--method", "bisect"], 2, ["--method"]),
]


@pytest.mark.parametrize("case, argv, code, needles", CLI, ids=[c[0] for c in CLI])
def test_cli_bad_input(files, case, argv, code, needles):
    fmt = {k: str(v) for k, v in files.items()}
    args = [a.format(**fmt) for a in argv]
    before = set(files["dir"].iterdir())
    assert_one_error(*run(*args), code, *needles)
    assert set(files["dir"].iterdir()) == before  # nothing half-written


def test_the_wide_file_error_is_short(files):
    _, _, err = run("fit", files["wide"], "--target", "c1999x")
    assert len(err) < 300  # not the 13 KB list of 2,000 names


# ----------------------------------------------------------------------------------------- API


def _lecture(bias=False):
    X, y = ds.datasets.lecture()
    return ds.LinearRegression(X, y, bias=bias)


def _adam_result():
    return ds.minimize(_lecture(True), [0.0, 0.0], optimizer=ds.optim.Adam(lr=0.1), epochs=3)


def _with_state(**changes):
    ck = _adam_result().checkpoint
    return {**ck, "state": {**ck["state"], **changes}}


class _NotAMonitor:
    pass


API = [
    ("minimize-lambda", lambda: ds.minimize(lambda w: float(w @ w), [1.0]), ParameterError,
     ["objective", "descend.Function(f)"]),
    ("minimize-callbacks-print", lambda: ds.minimize(_lecture(), [1.0], callbacks=[print]), ParameterError,
     ["callbacks[0]", "print", "Monitor"]),
    ("minimize-callbacks-object", lambda: ds.minimize(_lecture(), [1.0], callbacks=[_NotAMonitor()]), ParameterError,
     ["callbacks[0]", "_NotAMonitor"]),
    ("minimize-callbacks-number", lambda: ds.minimize(_lecture(), [1.0], callbacks=5), ParameterError, ["callbacks"]),
    ("minimize-resume-result", lambda: ds.minimize(_lecture(True), [0.0, 0.0], optimizer=ds.optim.Adam(lr=0.1),
                                                   resume=_adam_result()), ParameterError, ["result.checkpoint"]),
    ("minimize-resume-no-state", lambda: ds.minimize(
        _lecture(True), [0.0, 0.0], optimizer=ds.optim.Adam(lr=0.1),
        resume={k: v for k, v in _adam_result().checkpoint.items() if k != "state"}), ParameterError, ["'state'"]),
    ("minimize-resume-bad-buffers", lambda: ds.minimize(
        _lecture(True), [0.0, 0.0], optimizer=ds.optim.Adam(lr=0.1), resume=_with_state(buffers=[1, 2, 3])),
     ParameterError, ["resume['state']['buffers']"]),
    ("minimize-resume-bad-step", lambda: ds.minimize(
        _lecture(True), [0.0, 0.0], optimizer=ds.optim.Adam(lr=0.1), resume=_with_state(step="x")),
     ParameterError, ["resume['state']['step']", "'x'"]),
    ("minimize-resume-bad-epoch", lambda: ds.minimize(
        _lecture(True), [0.0, 0.0], optimizer=ds.optim.Adam(lr=0.1), resume={**_adam_result().checkpoint, "epoch": -1}),
     ParameterError, ["resume['epoch']"]),
    ("minimize-resume-other-optimizer", lambda: ds.minimize(
        _lecture(True), [0.0, 0.0], optimizer=ds.optim.SGD(lr=0.1, momentum=0.9), resume=_adam_result().checkpoint),
     ParameterError, ["checkpoint of Adam", "SGD"]),
    ("minimize-resume-other-shape", lambda: ds.minimize(
        _lecture(True), [0.0, 0.0], optimizer=ds.optim.SGD(lr=0.1, momentum=0.9),
        resume={k: v for k, v in _adam_result().checkpoint.items() if k != "optimizer"}),
     ParameterError, ["resume['state']", "(3, 2)", "(1, 2)"]),
    ("minimize-resume-w-length", lambda: ds.minimize(
        _lecture(True), [0.0, 0.0], optimizer=ds.optim.Adam(lr=0.1), resume={**_adam_result().checkpoint, "w": [1.0]}),
     ParameterError, ["resume['w']"]),
    ("minimize-seed-negative", lambda: ds.minimize(_lecture(), [1.0], batch_size=1, seed=-1), ParameterError,
     ["seed", "-1"]),
    ("minimize-seed-float", lambda: ds.minimize(_lecture(), [1.0], seed=1.5), ParameterError, ["seed", "1.5"]),
    ("minimize-w0-text", lambda: ds.minimize(_lecture(), ["one"]), ParameterError, ["w0", "numbers"]),
    ("minimize-epochs-zero", lambda: ds.minimize(_lecture(), [1.0], epochs=0), ParameterError, ["epochs"]),
    ("minimize-divergence-not-monitor", lambda: ds.minimize(_lecture(), [1.0], divergence="x"), ParameterError,
     ["divergence"]),
    ("function-grad-none", lambda: ds.minimize(ds.Function(lambda w: float(w @ w), grad=lambda w: None),
                                               [1.0, 2.0], epochs=2), ParameterError, ["grad(w)", "None", "(2,)"]),
    ("function-grad-shape", lambda: ds.minimize(ds.Function(lambda w: float(w @ w), grad=lambda w: np.zeros(3)),
                                                [1.0, 2.0], epochs=2), ParameterError, ["grad(w)", "(3,)", "(2,)"]),
    ("function-f-vector", lambda: ds.minimize(ds.Function(lambda w: w), [1.0, 2.0], epochs=2), ParameterError,
     ["f(w)", "number", "(2,)"]),
    ("function-f-text", lambda: ds.Function(lambda w: "low").loss([1.0]), ParameterError, ["f(w)", "str"]),
    ("linear-sparse-X", lambda: ds.LinearRegression(__import__("scipy.sparse").sparse.csr_matrix(np.eye(3)),
                                                    np.ones(3)), DataError, ["sparse", "X.toarray()"]),
    ("linear-overflowing-X", lambda: ds.LinearRegression(np.array([[1.0, 1e300], [2.0, 3.0]]), [1.0, 2.0]),
     DataError, ["column 1 of X", "standardise"]),
    ("linear-overflowing-y", lambda: ds.LinearRegression(np.array([[1.0], [2.0]]), [1e300, 2.0]),
     DataError, ["y holds", "overflow"]),
    ("logistic-label-half", lambda: ds.LogisticRegression(np.ones((3, 1)), [0, 1, 0.5]), DataError,
     ["y[2] is 0.5", "0 and 1, -1 and 1"]),
    ("logistic-three-names", lambda: ds.LogisticRegression(np.ones((3, 1)), ["a", "b", "c"]), DataError,
     ["y[2] is 'c'", "third label"]),
    ("logistic-one-name", lambda: ds.LogisticRegression(np.ones((2, 1)), ["a", "a"]), DataError, ["only label"]),
    ("optimizer-lr-inf", lambda: ds.optim.SGD(lr=float("inf")), ParameterError, ["lr", "finite"]),
    ("optimizer-momentum-nan", lambda: ds.optim.SGD(lr=0.1, momentum=float("nan")), ParameterError,
     ["momentum", "finite"]),
    ("optimizer-unknown-name", lambda: ds.optim.from_name("lbfgs"), ParameterError, ["unknown optimizer 'lbfgs'"]),
    ("optimizer-unknown-param", lambda: ds.optim.from_name("adam", lr=0.1, momentum=0.9), ParameterError,
     ["adam optimizer has no momentum"]),
    ("search-grid-too-big", lambda: ds.search.grid(ds.LinearRegression(np.ones((3, 3)), np.ones(3)),
                                                   bounds=[(0, 1)] * 4, num=1000), ParameterError, ["points"]),
    ("compare-no-runs", lambda: ds.compare(_lecture(), [1.0], runs=[]), ParameterError, ["runs is empty"]),
]


@pytest.mark.parametrize("case, call, error, needles", API, ids=[c[0] for c in API])
def test_api_bad_input(case, call, error, needles):
    with pytest.raises(error) as info:
        call()
    msg = str(info.value)
    assert "\n" not in msg
    for n in needles:
        assert n in msg, (n, msg)


def test_the_catalogue_is_large_enough():
    assert len(CLI) + len(API) >= 60


def test_read_csv_duplicate_header_is_a_data_error(files):
    with pytest.raises(DataError, match=r"column 'a' twice"):
        ds.datasets.read_csv(files["dup"], "y")


# ----------------------------------------------------------------- what is accepted, and how


def _fit_json(*argv):
    code, out, err = run("fit", *argv, "--json")
    assert code == 0, err
    return strict_json(out)


def _reference(tmp_path):
    p = tmp_path / "ref.csv"
    p.write_text("a,b,y\n1,2,3\n2,3,5\n3,4,8\n4,4,8\n")
    return _fit_json(p, "--target", "y", "--epochs", "20")


@pytest.mark.parametrize("name, text", [
    ("semicolon", "a;b;y\n1;2;3\n2;3;5\n3;4;8\n4;4;8\n"),
    ("tab", "a\tb\ty\n1\t2\t3\n2\t3\t5\n3\t4\t8\n4\t4\t8\n"),
    ("trailing-comma-rows", "a,b,y\n1,2,3,\n2,3,5,\n3,4,8,\n4,4,8,\n"),
    ("trailing-comma-everywhere", "a,b,y,\n1,2,3,\n2,3,5,\n3,4,8,\n4,4,8,\n"),
    ("bom-crlf-spaces", "\ufeffa, b, y\r\n1, 2, 3\r\n2, 3, 5\r\n3, 4, 8\r\n4, 4, 8\r\n"),
])
def test_dialects_read_the_same_numbers(tmp_path, name, text):
    p = tmp_path / f"{name}.csv"
    p.write_text(text, newline="")
    assert _fit_json(p, "--target", "y", "--epochs", "20") == _reference(tmp_path)


def test_gzip_reads_the_same_numbers(tmp_path):
    p = tmp_path / "d.csv.gz"
    with gzip.open(p, "wt") as fh:
        fh.write("a,b,y\n1,2,3\n2,3,5\n3,4,8\n4,4,8\n")
    assert _fit_json(p, "--target", "y", "--epochs", "20") == _reference(tmp_path)


def test_fast_and_slow_paths_give_the_same_numbers(tmp_path):
    """The good path (the C engine's parsing) and the slow path (cells as text, which names bad
    cells) read the same float64 values, bit for bit, over a wide range of magnitudes."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((200, 3)) * 10.0 ** rng.integers(-150, 150, (200, 3))
    p = tmp_path / "d.csv"
    p.write_text("a,b,y\n" + "\n".join(",".join(repr(float(v)) for v in r) for r in X) + "\n")
    t = ds.datasets.load_csv(p, "y")
    np.testing.assert_array_equal(t.X, X[:, :2])
    np.testing.assert_array_equal(t.y, X[:, 2])
    read = dict(sep=",", header=0, index_col=False, usecols=[0, 1, 2], engine="c", skipinitialspace=True)
    Xs, ys = ds.datasets._slow_path(p, read, ["a", "b", "y"], [0, 1, 2], ["a", "b"], "y", False)
    np.testing.assert_array_equal(Xs, t.X)
    np.testing.assert_array_equal(ys, t.y)
    with open(p, "a") as fh:
        fh.write("1,2,\n")
    with pytest.raises(DataError, match=r"row 201, column 'y' is empty"):
        ds.datasets.load_csv(p, "y")


@pytest.mark.parametrize("classes", [(-1, 1), ("no", "yes"), ("ham", "spam")])
def test_logistic_maps_two_labels_and_says_so(tmp_path, classes):
    X, y = ds.datasets.classification(n=40, d=2, seed=2)
    p = tmp_path / "labels.csv"
    p.write_text("a,b,label\n" + "\n".join(f"{float(a)!r},{float(b)!r},{classes[int(c)]}" for (a, b), c in zip(X, y))
                 + "\n")
    out = _fit_json(p, "--target", "label", "--model", "logistic", "--epochs", "30", "--lr", "0.5")
    assert out["labels"] == {str(c): i for i, c in enumerate(classes)}
    lib = ds.minimize(ds.LogisticRegression(X, y), np.zeros(3), optimizer=ds.optim.SGD(lr=0.5), epochs=30)
    assert out["loss"] == pytest.approx(lib.loss, rel=1e-12)
    code, text, _ = run("fit", p, "--target", "label", "--model", "logistic", "--epochs", "3")
    assert code == 0 and f"labels of 'label': {classes[0]!r} -> 0, {classes[1]!r} -> 1" in text


def test_logistic_objective_maps_minus_one(tmp_path):
    X, y = ds.datasets.classification(n=30, d=2, seed=4)
    a = ds.LogisticRegression(X, 2 * y - 1)
    b = ds.LogisticRegression(X, y)
    assert a.classes == (-1, 1) and b.classes is None
    w = np.array([0.3, -0.2, 0.1])
    assert a.loss(w) == b.loss(w)


def test_json_is_strict_on_every_path(tmp_path, files):
    p = tmp_path / "lecture.csv"
    p.write_text("x,y\n1,2\n2,4\n3,6\n4,8\n")
    # lr-find up to a rate where the loss overflows: its losses hold null, never Infinity
    code, out, err = run("lr-find", p, "--target", "y", "--no-bias", "--end", "1e30", "--diverge", "1e300",
                         "--json")
    assert code == 0, err
    js = strict_json(out)
    assert None in js["losses"]
    # a run that diverges to infinity: epoch_loss holds null
    code, out, err = run("fit", p, "--target", "y", "--no-bias", "--lr", "1e150", "--epochs", "5", "--json")
    assert code == 0, err
    js = strict_json(out)
    assert js["status"] == "diverged"
    for argv in (["search", "--json"], ["search", p, "--target", "y", "--method", "refine", "--json"]):
        code, out, err = run(*argv)
        assert code == 0, err
        strict_json(out)


def test_compare_out_writes_the_name_given(tmp_path):
    out = tmp_path / "F.png"
    code, text, err = run("compare", "--epochs", "2", "--batch-sizes", "full", "--out", out)
    assert code == 0, err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "F-2.png").exists() and not (tmp_path / "F-1.png").exists()
    assert f"wrote {out}" in text


def test_compare_is_a_function_of_the_package():
    obj = _lecture()
    comp = ds.compare(obj, [1.0], runs=[dict(batch_size=None, lr=0.01), dict(batch_size=1, lr=0.01)], epochs=5)
    ref = ds.minimize(obj, [1.0], optimizer=ds.optim.SGD(lr=0.01), epochs=5)
    np.testing.assert_array_equal(comp.results[0].history.epoch_loss, ref.history.epoch_loss)
    import descend.compare as module
    assert module is ds.compare and callable(ds.compare) and ds.compare.Comparison is type(comp)


def test_search_command_equals_the_library(tmp_path):
    code, out, err = run("search", "--json")
    assert code == 0, err
    js = strict_json(out)
    lib = ds.search.grid(_lecture(), bounds=[(0.0, 4.0)], num=41)
    assert js["weights"]["w"] == lib.w[0] == 2.0 and js["evaluations"] == 41 and js["loss"] == lib.loss
    p = tmp_path / "d.csv"
    p.write_text("x,y\n1,3\n2,5\n3,7\n4,9\n")
    code, out, err = run("search", p, "--target", "y", "--method", "refine", "--plot", tmp_path / "s.png", "--json")
    assert code == 0, err
    js = strict_json(out)
    X = np.array([[1.0], [2.0], [3.0], [4.0]])
    lib = ds.search.refine(ds.LinearRegression(X, 2 * X[:, 0] + 1), bounds=[(-10, 10)] * 2, num=11, rounds=6)
    assert [js["weights"]["x"], js["weights"]["bias"]] == lib.w.tolist()
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"


def test_ctrl_c_keeps_the_result_and_exits_130(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 3))
    p = tmp_path / "big.csv"
    np.savetxt(p, np.column_stack([X, X @ [1.0, 2.0, 3.0]]), delimiter=",", header="a,b,c,y", comments="",
               fmt="%.6f")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "descend", "fit", str(p), "--target", "y", "--batch-size", "1",
                             "--epochs", "100000", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    time.sleep(6)  # imports, reading, the first epochs
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: interrupted"), err
    if out:  # interrupted during the fit (not while loading): the result so far is printed first
        js = strict_json(out)
        assert js["status"] == "stopped" and "interrupted" in js["message"]
        assert js["loss"] <= js["epoch_loss"][0] and len(js["weights"]) == 4  # the best weights seen, kept
        assert lines[0].startswith("error: interrupted at epoch")


def test_python_m_descend_exit_codes(files):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "descend", "fit", str(files["dup"]), "--target", "y"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


# ------------------------------------------------- one source of truth: the options come from optim


def test_every_optimizer_hyper_parameter_is_an_option():
    code, out, _ = run("fit", "--help")
    assert code == 0
    for name in ds.optim.hyper_parameters():
        flags = ["--beta1", "--beta2"] if name == "betas" else ["--" + name.replace("_", "-")]
        for flag in flags:
            assert flag in out, flag
    for name, (flag, *_rest) in ds.schedules.OPTIONS.items():
        assert flag in out, flag


@pytest.mark.parametrize("argv, make", [
    (["--optimizer", "adadelta", "--rho", "0.5", "--lr", "0.5"], lambda: ds.optim.Adadelta(lr=0.5, rho=0.5)),
    (["--optimizer", "rmsprop", "--alpha", "0.9", "--centered", "--lr", "0.01"],
     lambda: ds.optim.RMSprop(lr=0.01, alpha=0.9, centered=True)),
    (["--optimizer", "adagrad", "--lr-decay", "0.1", "--initial-accumulator-value", "0.5", "--lr", "0.1"],
     lambda: ds.optim.Adagrad(lr=0.1, lr_decay=0.1, initial_accumulator_value=0.5)),
    (["--optimizer", "nadam", "--momentum-decay", "0.01", "--decoupled-weight-decay", "--weight-decay", "0.1",
      "--lr", "0.05"], lambda: ds.optim.NAdam(lr=0.05, momentum_decay=0.01, decoupled_weight_decay=True,
                                              weight_decay=0.1)),
    (["--optimizer", "sgd", "--momentum", "0.5", "--dampening", "0.2", "--lr", "0.01"],
     lambda: ds.optim.SGD(lr=0.01, momentum=0.5, dampening=0.2)),
    (["--optimizer", "adam", "--amsgrad", "--beta2", "0.9", "--lr", "0.1"],
     lambda: ds.optim.Adam(lr=0.1, betas=(0.9, 0.9), amsgrad=True)),
])
def test_generated_options_reach_the_optimizer(tmp_path, argv, make):
    p = tmp_path / "lecture.csv"
    p.write_text("x,y\n1,2\n2,4\n3,6\n4,8\n")
    js = _fit_json(p, "--target", "y", "--no-bias", "--epochs", "30", *argv)
    X, y = ds.datasets.lecture()
    lib = ds.minimize(ds.LinearRegression(X, y, bias=False), [0.0], optimizer=make(), epochs=30)
    np.testing.assert_allclose(js["epoch_loss"], lib.history.epoch_loss, rtol=1e-12)

"""The compiled kernels (numba) against the plain NumPy path: one algorithm, two speeds.

The reference is ``minimize(..., backend="numpy")``, which runs the objectives' NumPy
``loss_and_grad`` and the optimizers' rules on whole arrays. The kernels run the same rules
element by element in compiled code and sum rows in another order, so they agree to rounding:
rtol 1e-10 over two epochs on these well-conditioned problems (condition number ~10, learning
rates well inside the stable range, so rounding differences are not amplified).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import descend as ds
from descend import optim
from descend.errors import ParameterError

numba = pytest.importorskip("numba")
ROOT = Path(__file__).resolve().parents[1]

OPTIMIZERS = {
    "sgd": lambda: optim.SGD(lr=0.05),
    "sgd-momentum-dampening-wd": lambda: optim.SGD(lr=0.03, momentum=0.9, dampening=0.3, weight_decay=0.01),
    "sgd-nesterov": lambda: optim.SGD(lr=0.03, momentum=0.9, nesterov=True, weight_decay=0.01),
    "sgd-schedule": lambda: optim.SGD(lr=ds.schedules.exponential(0.05, 0.97)),
    "adam": lambda: optim.Adam(lr=0.02, weight_decay=0.01),
    "adam-amsgrad": lambda: optim.Adam(lr=0.02, amsgrad=True),
    "adamw": lambda: optim.AdamW(lr=0.02),
    "nadam": lambda: optim.NAdam(lr=0.02, weight_decay=0.01),
    "rmsprop-centered-momentum": lambda: optim.RMSprop(lr=0.005, momentum=0.5, centered=True, weight_decay=0.01),
    "adagrad": lambda: optim.Adagrad(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1),
    "adadelta": lambda: optim.Adadelta(lr=1.0, weight_decay=0.01),
}


def make_problem(model, dtype, bias, n=30, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(dtype)
    z = X.astype(np.float64) @ np.array([1.0, -2.0, 0.5])[:d] + (0.3 if bias else 0.0)
    if model == "linear":
        return ds.LinearRegression(X, (z + 0.1 * rng.normal(size=n)).astype(dtype), bias=bias)
    return ds.LogisticRegression(X, (rng.random(n) < 1 / (1 + np.exp(-z))).astype(dtype), bias=bias)


def both(obj, make_opt, w0=0.1, **kw):
    w0 = np.full(obj.n_params, w0)
    plain = ds.minimize(obj, w0, optimizer=make_opt(), backend="numpy", **kw)
    fast = ds.minimize(obj, w0, optimizer=make_opt(), backend="numba", **kw)
    assert plain.backend == "numpy" and fast.backend == "numba"
    return plain, fast


def assert_same(plain, fast, rtol):
    hp, hf = plain.history, fast.history
    assert len(hp.step_loss) == len(hf.step_loss)
    np.testing.assert_allclose(hf.step_loss, hp.step_loss, rtol=rtol, atol=1e-300)
    np.testing.assert_allclose(hf.grad_norm, hp.grad_norm, rtol=rtol)
    np.testing.assert_allclose(hf.lr, hp.lr, rtol=1e-15)  # schedules.evaluate is vectorised: pow may differ by 1 ulp
    np.testing.assert_allclose(hf.epoch_loss, hp.epoch_loss, rtol=rtol)
    np.testing.assert_allclose(hf.w, hp.w, rtol=rtol, atol=rtol * np.abs(hp.w).max())
    np.testing.assert_allclose(fast.checkpoint["state"]["buffers"], plain.checkpoint["state"]["buffers"],
                               rtol=rtol, atol=1e-12)
    assert fast.checkpoint["state"]["step"] == plain.checkpoint["state"]["step"]
    assert fast.status == plain.status


@pytest.mark.parametrize("model", ["linear", "logistic"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_fast_path_equals_plain_path(name, model):
    """The table: every optimizer x batch size (None, 1, 3, n) x bias x shuffle x dtype."""
    n = 30
    for dtype, rtol in ((np.float64, 1e-10), (np.float32, 1e-7)):
        for bias in (True, False):
            obj = make_problem(model, dtype, bias, n=n)
            for batch_size in (None, 1, 3, n):
                for shuffle in (True, False):
                    plain, fast = both(obj, OPTIMIZERS[name], batch_size=batch_size, epochs=2, shuffle=shuffle,
                                       seed=3)
                    assert_same(plain, fast, rtol)


@pytest.mark.parametrize("model", ["linear", "logistic"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_loss_is_the_objectives(model, dtype):
    """The kernels' one-pass full-data loss and gradient equal the objective's own methods."""
    from descend import kernels

    obj = make_problem(model, dtype, bias=True, n=20_000, d=3)
    for w in (np.array([0.3, -0.2, 0.1, 0.05]), np.array([40.0, -30.0, 20.0, 5.0])):  # large |z| for logistic
        loss, g = kernels.full_loss_and_grad(obj, w)
        ref_loss, ref_g = obj.loss_and_grad(w)
        assert loss == pytest.approx(ref_loss, rel=1e-12)
        np.testing.assert_allclose(g, ref_g, rtol=1e-11, atol=1e-14)
        assert kernels.full_loss(obj, w) == pytest.approx(obj.loss(w), rel=1e-12)


def test_float32_data_stays_float32_and_matches():
    obj = make_problem("linear", np.float32, bias=True, n=50)
    assert obj.X.dtype == np.float32
    plain, fast = both(obj, OPTIMIZERS["adam"], batch_size=4, epochs=3)
    # every sum is accumulated in float64 on both paths, so float32 data costs no accuracy here
    assert_same(plain, fast, 1e-10)


def test_specialisations_do_not_leak_between_dtypes():
    """numba compiles one specialisation per dtype; running float32 after float64 (and other
    shapes) must not reuse a float64 kernel on float32 data or vice versa."""
    from descend.kernels import _compiled

    results = {}
    for dtype in (np.float64, np.float32, np.float64):
        for d in (1, 3):
            obj = make_problem("linear", dtype, bias=True, n=25, d=d)
            plain, fast = both(obj, OPTIMIZERS["sgd"], batch_size=2, epochs=1)
            assert_same(plain, fast, 1e-7 if dtype == np.float32 else 1e-10)
            results.setdefault((dtype, d), fast.w)
            np.testing.assert_array_equal(results[(dtype, d)], fast.w)  # the same answer every time
    dtypes = {sig[4].dtype.name for sig in _compiled.run_steps.signatures}
    assert {"float32", "float64"} <= dtypes


def test_auto_backend_choice_and_errors():
    obj = make_problem("linear", np.float64, bias=True, n=400)
    assert ds.minimize(obj, np.zeros(4), epochs=1).backend == "numba"
    assert ds.minimize(obj, np.zeros(4), epochs=1, backend="numpy").backend == "numpy"
    tiny = make_problem("linear", np.float64, bias=True, n=30)  # 120 values: not worth loading numba
    assert ds.minimize(tiny, np.zeros(4), epochs=1).backend == "numpy"
    assert ds.minimize(tiny, np.zeros(4), epochs=1, backend="numba").backend == "numba"
    f = ds.Function(lambda w: float(w @ w), grad=lambda w: 2 * w, n_params=2)
    assert ds.minimize(f, [1.0, 1.0], epochs=2).backend == "numpy"
    with pytest.raises(ParameterError, match="backend='numba'.*linear models with a built-in loss"):
        ds.minimize(f, [1.0, 1.0], epochs=2, backend="numba")
    with pytest.raises(ParameterError, match="backend must be one of"):
        ds.minimize(obj, np.zeros(4), epochs=1, backend="gpu")

    class Clipped(optim.SGD):  # a user optimizer that changes step(): not a kernel's business
        def step(self, w, g, state):
            return super().step(w, np.clip(g, -1, 1), state)

    assert ds.minimize(obj, np.zeros(4), optimizer=Clipped(lr=0.1), epochs=1).backend == "numpy"
    with pytest.raises(ParameterError, match="no kernel for the optimizer Clipped"):
        ds.minimize(obj, np.zeros(4), optimizer=Clipped(lr=0.1), epochs=1, backend="numba")


def test_lecture_divergence_is_identical_on_both_backends():
    X, y = ds.datasets.lecture()
    obj = ds.LinearRegression(X, y, bias=False)
    for batch_size in (None, 1):
        plain, fast = both(obj, lambda: optim.SGD(lr=0.2), w0=1.0, batch_size=batch_size, epochs=100, shuffle=False)
        assert plain.status == fast.status == "diverged"
        assert plain.epochs == fast.epochs
        assert_same(plain, fast, 1e-12)
        assert fast.message == plain.message


def test_huge_learning_rate_stops_before_the_bad_update():
    X, y = ds.datasets.lecture()
    obj = ds.LinearRegression(X, y, bias=False)
    plain, fast = both(obj, lambda: optim.SGD(lr=1e160), w0=1.0, batch_size=1, epochs=5, shuffle=False)
    assert fast.status == "diverged" and "non-finite" in fast.message
    # step 1 takes w from 1 to about -2e160; step 2's loss (x w - y)^2 overflows: no update
    assert len(fast.history.step_loss) == 2 and np.isinf(fast.history.step_loss[-1])
    assert np.isnan(fast.history.lr[-1])
    assert fast.checkpoint["state"]["step"] == 1
    assert np.isfinite(fast.checkpoint["w"]).all()
    assert fast.checkpoint["w"] == plain.checkpoint["w"]
    assert fast.w == pytest.approx([1.0])  # the best weights seen: the start


def test_resume_on_the_fast_path_matches_an_uninterrupted_run():
    obj = make_problem("logistic", np.float64, bias=True, n=40)
    full = ds.minimize(obj, np.zeros(4), optimizer=optim.Adam(lr=0.05), batch_size=5, epochs=4, backend="numba")
    half = ds.minimize(obj, np.zeros(4), optimizer=optim.Adam(lr=0.05), batch_size=5, epochs=2, backend="numba")
    rest = ds.minimize(obj, np.zeros(4), optimizer=optim.Adam(lr=0.05), batch_size=5, epochs=4, backend="numba",
                       resume=half.checkpoint)
    np.testing.assert_array_equal(rest.w, full.w)


def test_import_descend_does_not_import_numba():
    code = "import sys, descend, descend.kernels; print('numba' in sys.modules)"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False"


DISABLED_JIT_SCRIPT = """
import json, numpy as np, descend as ds
from descend import optim
rng = np.random.default_rng(1)
X = rng.normal(size=(12, 2)); y = X @ [1.0, -1.0] + 0.5
worst = 0.0
for model in (ds.LinearRegression(X, y), ds.LogisticRegression(X, (y > 0.5).astype(float))):
    for make in (lambda: optim.SGD(lr=0.05, momentum=0.9), lambda: optim.Adam(lr=0.05)):
        for b in (None, 1, 5):
            a = ds.minimize(model, np.zeros(3), optimizer=make(), batch_size=b, epochs=2, backend="numpy")
            f = ds.minimize(model, np.zeros(3), optimizer=make(), batch_size=b, epochs=2, backend="numba")
            worst = max(worst, float(np.max(np.abs(f.history.step_loss / a.history.step_loss - 1))),
                        float(np.max(np.abs(f.w - a.w))))
import numba
print(json.dumps({"disabled": bool(numba.config.DISABLE_JIT), "worst": worst}))
"""


def test_kernels_run_as_plain_python_with_jit_disabled():
    """NUMBA_DISABLE_JIT=1: the kernels run as Python (lanes(w) is then one slice) and still agree."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), NUMBA_DISABLE_JIT="1")
    out = subprocess.run([sys.executable, "-c", DISABLED_JIT_SCRIPT], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["disabled"] is True
    assert result["worst"] < 1e-12


def test_block_shuffle_order_is_a_permutation_that_depends_only_on_seed_and_epoch():
    from descend import batching

    for n in (1, 5, 1024, 3000):
        order = batching.epoch_order(n, 2, 7, "block")
        np.testing.assert_array_equal(np.sort(order), np.arange(n))
        np.testing.assert_array_equal(order, batching.epoch_order(n, 2, 7, "block"))
    big = batching.epoch_order(5000, 0, 0, "block")
    assert not np.array_equal(big, batching.epoch_order(5000, 1, 0, "block"))
    # rows of one block stay together: the first 1024 visits all fall in one block of 1024 rows
    assert len(np.unique(big[:1024] // batching.BLOCK_ROWS)) == 1
    with pytest.raises(ParameterError, match="shuffle must be True, False or 'block'"):
        ds.minimize(make_problem("linear", np.float64, True), np.zeros(4), epochs=1, shuffle="blocks")


def test_block_shuffle_fast_path_equals_plain_path():
    obj = make_problem("linear", np.float64, bias=True, n=2500)
    plain, fast = both(obj, OPTIMIZERS["sgd-nesterov"], batch_size=7, epochs=2, shuffle="block")
    assert_same(plain, fast, 1e-10)


def test_compiled_epoch_order_is_numpys_permutation_bit_for_bit():
    """The numba path computes np.random.default_rng([seed, epoch]).permutation(n) in compiled
    code; it must be the very same array (all n, seeds, epochs; block and sequential pass through)."""
    from descend import batching, kernels

    for n in (1, 2, 3, 5, 48, 1000, 65_537):
        for seed, epoch in ((0, 0), (7, 3), (2**62 + 5, 11)):
            expected = np.random.default_rng([seed, epoch]).permutation(n)
            np.testing.assert_array_equal(kernels.epoch_order(n, epoch, seed, True), expected)
            np.testing.assert_array_equal(kernels.epoch_order(n, epoch, seed, np.True_), expected)
            for shuffle in (False, "block"):
                np.testing.assert_array_equal(kernels.epoch_order(n, epoch, seed, shuffle),
                                              batching.epoch_order(n, epoch, seed, shuffle))
    with pytest.raises(ParameterError, match="shuffle must be"):
        kernels.epoch_order(5, 0, 0, 1)


def test_per_sample_gradient_norm_is_the_norm_of_g():
    """One-row batches compute ||g|| as |dz| ||[x, 1]||; it equals the plain path's sqrt(g.g) to
    rounding, with and without bias, for both models, and over/underflow goes the same way."""
    for model in ("linear", "logistic"):
        for bias in (True, False):
            obj = make_problem(model, np.float64, bias, n=200, d=3)
            plain, fast = both(obj, OPTIMIZERS["adam"], batch_size=1, epochs=2, shuffle=True, seed=5)
            np.testing.assert_allclose(fast.history.grad_norm, plain.history.grad_norm, rtol=1e-13)
            assert_same(plain, fast, 1e-10)

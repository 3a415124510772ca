"""Optimizers: parity with torch.optim, hand-worked first steps, convergence, validation, state.

The torch reference loop is written here from scratch: the same weights in a float64 tensor,
the gradient of the same objective computed in NumPy at torch's current weights, fed to
torch.optim's own ``step``. Mini-batch runs use the documented row order of epoch e,
``np.random.default_rng([seed, e]).permutation(n)``, with consecutive batches.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import descend as ds
from descend import optim, schedules
from descend.errors import ParameterError

torch = pytest.importorskip("torch")

RTOL = 1e-9

# (descend class name, kwargs) -- the same names and meanings as torch.optim's.
CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, weight_decay=0.1)),
    ("SGD", dict(lr=0.03, momentum=0.8, nesterov=True, weight_decay=0.05)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
    ("AdamW", dict(lr=0.05, betas=(0.5, 0.9), eps=1e-4, weight_decay=0.0)),
    ("NAdam", dict(lr=0.05)),
    ("NAdam", dict(lr=0.05, momentum_decay=0.02, betas=(0.8, 0.99))),
    ("NAdam", dict(lr=0.05, weight_decay=0.1)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.005, momentum=0.5)),
    ("RMSprop", dict(lr=0.005, momentum=0.5, centered=True, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.2)),
    ("Adagrad", dict(lr=0.2, lr_decay=0.05)),
    ("Adagrad", dict(lr=0.2, initial_accumulator_value=0.5, eps=1e-6)),
    ("Adagrad", dict(lr=0.2, weight_decay=0.1, lr_decay=0.01)),
    ("Adadelta", dict(lr=1.0)),
    ("Adadelta", dict(lr=0.5, rho=0.5, eps=1e-4)),
    ("Adadelta", dict(lr=1.0, weight_decay=0.1)),
]
IDS = [f"{name}-" + "-".join(f"{k}={v}" for k, v in kw.items()) for name, kw in CASES]


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(7)
    n, d = 48, 4
    X = rng.standard_normal((n, d)) * np.array([1.0, 2.0, 0.5, 1.5])
    coef = np.array([1.5, -2.0, 3.0, 0.7])
    y = X @ coef + 0.8 + 0.3 * rng.standard_normal(n)
    obj = ds.LinearRegression(X, y, bias=True)
    w0 = np.array([0.3, 0.5, -0.4, 0.2, -0.13])
    return obj, w0


def torch_run(obj, w0, name, kwargs, steps_rows, scheduler=None):
    """The reference: torch.optim on the gradients of ``obj`` (NumPy, float64) at torch's weights.

    ``steps_rows`` is a list of row-index arrays (None = full batch), one per step; returns the
    weights after every step.
    """
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torch keeps scalar state (NAdam's mu_product) in this dtype
    try:
        p = torch.tensor(w0, dtype=torch.float64)
        opt = getattr(torch.optim, name)([p], foreach=False, **kwargs)
        sched = scheduler(opt) if scheduler is not None else None
        out = []
        for rows in steps_rows:
            g = obj.grad(p.detach().numpy().copy(), rows)
            p.grad = torch.from_numpy(np.asarray(g, dtype=np.float64).copy())
            opt.step()
            if sched is not None:
                sched.step()
            out.append(p.detach().numpy().copy())
    finally:
        torch.set_default_dtype(previous)
    return np.array(out)


def minibatch_rows(n, batch_size, epochs, seed):
    rows = []
    for e in range(epochs):
        order = np.random.default_rng([seed, e]).permutation(n)
        rows += [order[s : s + batch_size] for s in range(0, n, batch_size)]
    return rows


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=IDS)
def test_full_batch_parity_with_torch(problem, name, kwargs):
    obj, w0 = problem
    steps = 60
    res = ds.minimize(obj, w0, optimizer=getattr(optim, name)(**kwargs), epochs=steps)
    ref = torch_run(obj, w0, name, kwargs, [None] * steps)
    # history.w: the weights at every epoch boundary = after every full-batch step
    np.testing.assert_allclose(res.history.w[1:], ref, rtol=RTOL, atol=0)
    assert res.status == "max_epochs"
    assert np.abs(ref[-1] - w0).max() > 1e-2  # it really moved


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=IDS)
def test_minibatch_parity_with_torch(problem, name, kwargs):
    obj, w0 = problem
    epochs, batch, seed = 4, 10, 3  # 48 rows: 4 batches of 10 and one of 8 per epoch
    res = ds.minimize(obj, w0, optimizer=getattr(optim, name)(**kwargs), batch_size=batch, epochs=epochs,
                      seed=seed)
    ref = torch_run(obj, w0, name, kwargs, minibatch_rows(obj.n_samples, batch, epochs, seed))
    assert res.steps == len(ref) == 20
    np.testing.assert_allclose(res.w, ref[-1], rtol=RTOL, atol=0)
    np.testing.assert_allclose(res.history.w[1:], ref[4::5], rtol=RTOL, atol=0)  # each epoch's end


SCHEDULE_CASES = [
    ("step", lambda lr: schedules.step(lr, step_size=7, gamma=0.5),
     lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.5)),
    ("exponential", lambda lr: schedules.exponential(lr, gamma=0.95),
     lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.95)),
    ("cosine", lambda lr: schedules.cosine(lr, T=50, floor=lr / 20),
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=50, eta_min=o.defaults["lr"] / 20)),
    ("warmup", lambda lr: schedules.warmup(lr, steps=10, start_factor=0.25),
     lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=10)),
]


@pytest.mark.parametrize(("name", "kwargs"), [CASES[1], CASES[6], CASES[20], CASES[25]], ids=lambda v: str(v))
@pytest.mark.parametrize(("sname", "ours", "theirs"), SCHEDULE_CASES, ids=[c[0] for c in SCHEDULE_CASES])
def test_schedule_as_lr_parity_with_torch(problem, name, kwargs, sname, ours, theirs):
    obj, w0 = problem
    steps = 50
    lr = kwargs["lr"]
    kw = {**kwargs, "lr": ours(lr)}
    res = ds.minimize(obj, w0, optimizer=getattr(optim, name)(**kw), epochs=steps)
    ref = torch_run(obj, w0, name, kwargs, [None] * steps, scheduler=theirs)
    np.testing.assert_allclose(res.history.w[1:], ref, rtol=RTOL, atol=0)
    # the learning rates used, step by step, are the schedule's
    np.testing.assert_allclose(res.history.lr, kw["lr"](np.arange(steps)), rtol=1e-15)


# ------------------------------------------------------------------ hand-worked (no torch)
# f(w) = 0.5 * a * w^2 with a = 2: grad = 2 w.  Start w0 = 1.


def quad():
    return ds.Function(lambda w: float(w[0] ** 2), grad=lambda w: 2.0 * w, n_params=1)


def first_steps(opt, k):
    res = ds.minimize(quad(), [1.0], optimizer=opt, epochs=k)
    return res.history.w[:, 0]


def test_hand_sgd():
    # w <- w - 0.1 * 2w = 0.8 w
    np.testing.assert_allclose(first_steps(optim.SGD(lr=0.1), 3), [1.0, 0.8, 0.64, 0.512], rtol=1e-15)


def test_hand_momentum():
    # b1 = g1 = 2; w1 = 1 - 0.1*2 = 0.8
    # g2 = 1.6; b2 = 0.9*2 + 1.6 = 3.4; w2 = 0.8 - 0.34 = 0.46
    # g3 = 0.92; b3 = 0.9*3.4 + 0.92 = 3.98; w3 = 0.46 - 0.398 = 0.062
    np.testing.assert_allclose(first_steps(optim.SGD(lr=0.1, momentum=0.9), 3), [1.0, 0.8, 0.46, 0.062],
                               rtol=1e-13)


def test_hand_momentum_dampening():
    # b1 = g1 = 2 (no dampening on the first step); w1 = 0.8
    # g2 = 1.6; b2 = 0.9*2 + 0.5*1.6 = 2.6; w2 = 0.8 - 0.26 = 0.54
    np.testing.assert_allclose(first_steps(optim.SGD(lr=0.1, momentum=0.9, dampening=0.5), 2),
                               [1.0, 0.8, 0.54], rtol=1e-13)


def test_hand_nesterov():
    # g1 = 2; b1 = 2; step g + mu b = 2 + 1.8 = 3.8; w1 = 1 - 0.38 = 0.62
    # g2 = 1.24; b2 = 1.8 + 1.24 = 3.04; step 1.24 + 2.736 = 3.976; w2 = 0.62 - 0.3976 = 0.2224
    np.testing.assert_allclose(first_steps(optim.SGD(lr=0.1, momentum=0.9, nesterov=True), 2),
                               [1.0, 0.62, 0.2224], rtol=1e-13)


def test_hand_adam():
    # t=1: g = 2; m = 0.2; v = 0.004; m_hat = 2, v_hat = 4 -> step = lr * 2 / (2 + eps)
    lr, eps = 0.1, 1e-8
    w1 = 1.0 - lr * 2.0 / (2.0 + eps)
    # t=2: g = 2 w1; m = 0.9*0.2 + 0.1 g; v = 0.999*0.004 + 0.001 g^2
    g = 2 * w1
    m = 0.18 + 0.1 * g
    v = 0.999 * 0.004 + 0.001 * g * g
    w2 = w1 - lr * (m / (1 - 0.81)) / (math.sqrt(v / (1 - 0.999**2)) + eps)
    got = first_steps(optim.Adam(lr=lr), 2)
    np.testing.assert_allclose(got, [1.0, w1, w2], rtol=1e-13)
    assert got[1] == pytest.approx(0.9, abs=1e-8)  # Adam's first step has length lr


# ------------------------------------------------------------------ every optimizer converges

def rosenbrock():
    f = lambda w: (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2  # noqa: E731
    g = lambda w: np.array([-2 * (1 - w[0]) - 400 * w[0] * (w[1] - w[0] ** 2), 200 * (w[1] - w[0] ** 2)])  # noqa: E731
    return ds.Function(f, grad=g, n_params=2, name="rosenbrock")


A = np.array([[3.0, 0.5], [0.5, 1.0]])
B = np.array([1.0, -2.0])


def quadratic():
    return ds.Function(lambda w: 0.5 * w @ A @ w - B @ w, grad=lambda w: A @ w - B, n_params=2, name="quadratic")


# (optimizer, epochs on the quadratic, epochs on Rosenbrock); tuned per rule as optax's table does
CONVERGE = [
    (lambda: optim.SGD(lr=0.1), 400, lambda: optim.SGD(lr=1e-3), 30000),
    (lambda: optim.SGD(lr=0.1, momentum=0.9), 300, lambda: optim.SGD(lr=1e-3, momentum=0.9), 5000),
    (lambda: optim.SGD(lr=0.1, momentum=0.9, nesterov=True), 300,
     lambda: optim.SGD(lr=1e-3, momentum=0.9, nesterov=True), 5000),
    (lambda: optim.Adam(lr=0.05), 1500, lambda: optim.Adam(lr=0.02), 5000),
    (lambda: optim.Adam(lr=0.05, amsgrad=True), 1500, lambda: optim.Adam(lr=0.02, amsgrad=True), 5000),
    (lambda: optim.AdamW(lr=0.05, weight_decay=0.0), 1500, lambda: optim.AdamW(lr=0.02, weight_decay=0.0), 5000),
    (lambda: optim.NAdam(lr=0.05), 1500, lambda: optim.NAdam(lr=0.02), 5000),
    # RMSprop and Adadelta take steps of about lr whatever the gradient: they hover around the
    # minimiser at a constant rate, so they get a decaying schedule, as they would in practice
    (lambda: optim.RMSprop(lr=schedules.exponential(0.05, 0.995)), 2000,
     lambda: optim.RMSprop(lr=schedules.exponential(0.01, 0.9997)), 20000),
    (lambda: optim.RMSprop(lr=0.01, momentum=0.9, centered=True), 1500,
     lambda: optim.RMSprop(lr=1e-3, momentum=0.9), 5000),
    (lambda: optim.Adagrad(lr=0.5), 2000, lambda: optim.Adagrad(lr=0.5), 20000),
    (lambda: optim.Adadelta(lr=schedules.cosine(1.0, T=3000, floor=1e-4)), 3000,
     lambda: optim.Adadelta(lr=schedules.cosine(1.0, T=10000, floor=1e-4), rho=0.95), 10000),
]


@pytest.mark.parametrize(("make_q", "epochs_q", "make_r", "epochs_r"), CONVERGE,
                         ids=[repr(c[0]()) for c in CONVERGE])
def test_every_optimizer_reaches_the_minimiser(make_q, epochs_q, make_r, epochs_r):
    res = ds.minimize(quadratic(), [-2.0, 2.0], optimizer=make_q(), epochs=epochs_q)
    np.testing.assert_allclose(res.w, np.linalg.solve(A, B), atol=2e-3)
    res = ds.minimize(rosenbrock(), [-1.2, 1.0], optimizer=make_r(), epochs=epochs_r)
    np.testing.assert_allclose(res.w, [1.0, 1.0], atol=2e-2)
    assert res.loss < 1e-3


# ------------------------------------------------------------------ validation

INVALID = [
    (lambda: optim.SGD(lr=0.0), "lr"),
    (lambda: optim.SGD(lr=-0.1), "lr"),
    (lambda: optim.SGD(lr=float("nan")), "lr"),
    (lambda: optim.SGD(lr=0.1, momentum=-0.5), "momentum"),
    (lambda: optim.SGD(lr=0.1, nesterov=True), "nesterov"),
    (lambda: optim.SGD(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    (lambda: optim.SGD(lr=0.1, weight_decay=-1), "weight_decay"),
    (lambda: optim.SGD(lr=0.1, dampening=1.5), "dampening"),
    (lambda: optim.Adam(lr=-1e-3), "lr"),
    (lambda: optim.Adam(betas=(1.0, 0.999)), r"betas\[0\]"),
    (lambda: optim.Adam(betas=(0.9, 1.0)), r"betas\[1\]"),
    (lambda: optim.Adam(betas=(-0.1, 0.999)), r"betas\[0\]"),
    (lambda: optim.Adam(betas=0.9), "betas"),
    (lambda: optim.Adam(eps=-1e-8), "eps"),
    (lambda: optim.AdamW(weight_decay=-0.01), "weight_decay"),
    (lambda: optim.NAdam(momentum_decay=-1), "momentum_decay"),
    (lambda: optim.NAdam(betas=(0.9, 1.5)), r"betas\[1\]"),
    (lambda: optim.RMSprop(alpha=1.5), "alpha"),
    (lambda: optim.RMSprop(eps=-1.0), "eps"),
    (lambda: optim.RMSprop(momentum=-0.1), "momentum"),
    (lambda: optim.Adagrad(lr_decay=-0.1), "lr_decay"),
    (lambda: optim.Adagrad(initial_accumulator_value=-1), "initial_accumulator_value"),
    (lambda: optim.Adagrad(eps=-1e-10), "eps"),
    (lambda: optim.Adadelta(rho=1.5), "rho"),
    (lambda: optim.Adadelta(lr=0), "lr"),
    (lambda: optim.from_name("lbfgs", lr=0.1), "unknown optimizer"),
]


@pytest.mark.parametrize(("make", "word"), INVALID, ids=[w for _, w in INVALID])
def test_invalid_hyper_parameters_raise_one_clear_sentence(make, word):
    with pytest.raises(ParameterError, match=word) as info:
        make()
    msg = str(info.value)
    assert msg.endswith(".") and "\n" not in msg
    assert msg.count(". ") == 0 or "e.g." in msg  # one sentence


def test_torch_rejects_the_same_values():
    """Our bounds are torch's: each value rejected above is rejected by torch too (where torch checks)."""
    p = [torch.zeros(2, dtype=torch.float64)]
    for make in (lambda: torch.optim.SGD(p, lr=-0.1), lambda: torch.optim.SGD(p, lr=0.1, nesterov=True),
                 lambda: torch.optim.Adam(p, betas=(1.0, 0.999)), lambda: torch.optim.Adam(p, eps=-1e-8),
                 lambda: torch.optim.RMSprop(p, alpha=-0.1), lambda: torch.optim.Adadelta(p, rho=1.5),
                 lambda: torch.optim.Adagrad(p, lr_decay=-0.1)):
        with pytest.raises(ValueError):
            make()


# ------------------------------------------------------------------ from_name

def test_from_name_builds_the_named_optimizer():
    assert type(optim.from_name("adam", lr=0.1)) is optim.Adam
    m = optim.from_name("momentum", lr=0.1)
    assert type(m) is optim.SGD and m.momentum == 0.9 and not m.nesterov
    n = optim.from_name("Nesterov", lr=0.1, momentum=0.5)
    assert n.nesterov and n.momentum == 0.5
    for name in ("sgd", "adam", "adamw", "nadam", "rmsprop", "adagrad", "adadelta"):
        assert optim.from_name(name, lr=0.5).name == name


# ------------------------------------------------------------------ state: serialise, resume

@pytest.mark.parametrize(("name", "kwargs"), [CASES[3], CASES[10], CASES[17], CASES[22], CASES[25], CASES[29]],
                         ids=lambda v: str(v))
def test_state_round_trips_through_json(problem, name, kwargs):
    obj, w0 = problem
    opt = getattr(optim, name)(**kwargs)
    state = opt.init(w0)
    w = w0.copy()
    for _ in range(7):
        opt.step(w, obj.grad(w), state)
    state.lr_scale = 0.3
    back = optim.OptState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert back.step == 7 and back.lr_scale == 0.3
    assert back.buffers.dtype == np.float64 and back.buffers.shape == state.buffers.shape
    assert np.array_equal(back.buffers, state.buffers)
    # and the next steps from the restored state are bit-identical
    w_a, w_b = w.copy(), w.copy()
    for _ in range(5):
        opt.step(w_a, obj.grad(w_a), state)
        opt.step(w_b, obj.grad(w_b), back)
    assert np.array_equal(w_a, w_b)


@pytest.mark.parametrize("make", [lambda: optim.SGD(lr=0.02, momentum=0.9, nesterov=True),
                                  lambda: optim.Adam(lr=schedules.step(0.05, step_size=9, gamma=0.5), amsgrad=True),
                                  lambda: optim.NAdam(lr=0.02),
                                  lambda: optim.RMSprop(lr=0.005, momentum=0.5, centered=True),
                                  lambda: optim.Adadelta(lr=1.0)], ids=["nesterov", "adam-sched", "nadam",
                                                                          "rmsprop", "adadelta"])
@pytest.mark.parametrize("batch_size", [None, 7])
def test_resume_halfway_is_bit_identical(problem, make, batch_size):
    obj, w0 = problem
    full = ds.minimize(obj, w0, optimizer=make(), batch_size=batch_size, epochs=10, seed=5)
    half = ds.minimize(obj, w0, optimizer=make(), batch_size=batch_size, epochs=5, seed=5)
    checkpoint = json.loads(json.dumps(half.checkpoint))  # it survives a trip through a file
    rest = ds.minimize(obj, w0, optimizer=make(), batch_size=batch_size, epochs=10, seed=5, resume=checkpoint)
    assert np.array_equal(rest.w, full.w)
    assert rest.steps == full.steps
    # the halves' histories, joined, are the uninterrupted history
    assert np.array_equal(np.concatenate([half.history.w, rest.history.w[1:]]), full.history.w)
    assert np.array_equal(np.concatenate([half.history.step_loss, rest.history.step_loss]), full.history.step_loss)
    assert np.array_equal(np.concatenate([half.history.lr, rest.history.lr]), full.history.lr)

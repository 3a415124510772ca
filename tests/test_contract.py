"""The model contract: linear models with several outputs, an L2 penalty that never touches a
bias, the softmax objective, and every engine running them with the same numbers.

References: finite differences and hand-written NumPy loops for the objectives, scikit-learn's
LogisticRegression for the softmax objective, and the plain NumPy path for the kernels.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import load_digits, load_iris
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import descend as ds
from descend.estimators import GDClassifier, GDRegressor

numba = pytest.importorskip("numba")


def fd_grad(obj, w, h=1e-6):
    g = np.empty_like(w)
    for i in range(w.size):
        e = np.zeros_like(w)
        e[i] = h
        g[i] = (obj.loss(w + e) - obj.loss(w - e)) / (2 * h)
    return g


@pytest.fixture
def data(rng):
    X = rng.normal(size=(60, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.3 + 0.1 * rng.normal(size=60)
    return X, y


def test_multi_output_regression_is_the_sum_of_single_outputs_plus_a_coefficient_penalty(data, rng):
    X, y = data
    Y = np.column_stack([y, 2 * y - 1, rng.normal(size=60)])
    obj = ds.LinearRegression(X, Y, l2=0.3)
    assert obj.n_outputs == 3 and obj.n_params == 12 and obj.block == 4
    w = rng.normal(size=12)
    W = w.reshape(3, 4)
    naive = sum(np.mean((X @ W[k, :3] + W[k, 3] - Y[:, k]) ** 2) for k in range(3))
    naive += 0.3 * np.sum(W[:, :3] ** 2)  # the biases W[:, 3] are not penalised
    assert obj.loss(w) == pytest.approx(naive, rel=1e-13)
    assert_allclose(obj.grad(w), fd_grad(obj, w), rtol=1e-6, atol=1e-7)
    rows = np.array([5, 1, 7])
    sub = ds.LinearRegression(X[rows], Y[rows], l2=0.3)
    assert obj.loss(w, rows) == pytest.approx(sub.loss(w), rel=1e-14)
    # the bias is never penalised: moving it changes the data loss only
    e = np.zeros(12)
    e[3] = 0.7
    assert obj.loss(w + e) - obj.data_loss(w + e) == pytest.approx(obj.loss(w) - obj.data_loss(w), rel=1e-13)
    # exact Hessian (block-diagonal) against differences of the gradient; the ridge solution has zero gradient
    H = obj.hessian(w)
    Hfd = np.column_stack([(obj.grad(w + 1e-5 * np.eye(12)[i]) - obj.grad(w - 1e-5 * np.eye(12)[i])) / 2e-5
                           for i in range(12)])
    assert_allclose(H, Hfd, rtol=1e-7, atol=1e-8)
    assert np.linalg.norm(obj.grad(obj.solution())) < 1e-10


def test_one_vs_rest_logistic_and_its_hessian(data, rng):
    X, y = data
    Y = np.column_stack([y > 0, y > 1, y < -1]).astype(float)
    obj = ds.LogisticRegression(X, Y, l2=0.05)
    w = 0.3 * rng.normal(size=obj.n_params)
    W = w.reshape(3, 4)
    naive = 0.0
    for k in range(3):
        z = X @ W[k, :3] + W[k, 3]
        naive += np.mean(np.log1p(np.exp(z)) - Y[:, k] * z) + 0.05 * W[k, :3] @ W[k, :3]
    assert obj.loss(w) == pytest.approx(naive, rel=1e-13)
    assert_allclose(obj.grad(w), fd_grad(obj, w), rtol=1e-6, atol=1e-8)
    Hfd = np.column_stack([(obj.grad(w + 1e-5 * e) - obj.grad(w - 1e-5 * e)) / 2e-5 for e in np.eye(obj.n_params)])
    assert_allclose(obj.hessian(w), Hfd, rtol=1e-6, atol=1e-8)


def test_softmax_loss_gradient_and_hessian(data, rng):
    X, y = data
    c = np.digitize(y, [-1.0, 1.0])  # three classes
    obj = ds.SoftmaxRegression(X, c, l2=0.02)
    assert obj.n_outputs == 3 and obj.n_params == 12
    w = rng.normal(size=12)
    W = w.reshape(3, 4)
    Z = X @ W[:, :3].T + W[:, 3]
    naive = np.mean(np.log(np.exp(Z).sum(1)) - Z[np.arange(60), c]) + 0.02 * np.sum(W[:, :3] ** 2)
    assert obj.loss(w) == pytest.approx(naive, rel=1e-13)
    assert_allclose(obj.grad(w), fd_grad(obj, w), rtol=1e-6, atol=1e-8)
    Hfd = np.column_stack([(obj.grad(w + 1e-5 * e) - obj.grad(w - 1e-5 * e)) / 2e-5 for e in np.eye(12)])
    assert_allclose(obj.hessian(w), Hfd, rtol=1e-6, atol=1e-8)
    assert_allclose(obj.predict_proba(w), np.exp(Z) / np.exp(Z).sum(1, keepdims=True), rtol=1e-13)
    # huge decisions do not overflow
    assert np.isfinite(obj.loss(1e4 * w)) and np.all(np.isfinite(obj.grad(1e4 * w)))
    with pytest.raises(ds.DataError, match=r"class indices 0, 1, ..., K-1; y\[2\] \(row 2, counting from 0\) is 1.5"):
        ds.SoftmaxRegression(X[:4], [0, 1, 1.5, 0])


@pytest.mark.parametrize("name, C", [("iris", 1.0), ("digits", 0.01)])
def test_softmax_matches_scikit_learn_logistic_regression(name, C):
    """mean cross-entropy + l2 ||C||^2 with l2 = 1/(2 C N) has scikit-learn's LogisticRegression(C)
    minimiser (multinomial, intercepts not penalised); GDClassifier's default for > 2 classes
    reaches it to 1e-6."""
    X, y = (load_iris if name == "iris" else load_digits)(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    n = len(y)
    ref = SkLogisticRegression(C=C, tol=1e-12, max_iter=100_000).fit(X, y)
    obj = ds.SoftmaxRegression(X, y, l2=1 / (2 * C * n))
    w_ref = np.column_stack([ref.coef_, ref.intercept_]).ravel()
    assert np.linalg.norm(obj.grad(w_ref)) < 1e-6  # scikit-learn's answer is our objective's minimiser
    L, _ = obj.smoothness()
    est = GDClassifier(batch_size=None, optimizer="nesterov", learning_rate=1 / L, alpha=1 / (C * n),
                       max_epochs=2000, tol=None).fit(X, y)
    assert est.result_.backend == "numba"
    assert est.coef_.shape == ref.coef_.shape
    assert_allclose(est.coef_, ref.coef_, atol=1e-6)
    # the softmax is unchanged by a common shift of the intercepts: gradient descent keeps them summing to 0
    assert_allclose(est.intercept_, ref.intercept_ - ref.intercept_.mean(), atol=1e-6)
    assert_allclose(est.predict_proba(X), ref.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("name", ["iris", "digits"])
def test_softmax_classifier_accuracy_is_scikit_learns(name):
    X, y = (load_iris if name == "iris" else load_digits)(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    scaler = StandardScaler().fit(X_tr)
    X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    ref = SkLogisticRegression(C=1.0, max_iter=10_000).fit(X_tr, y_tr)
    est = GDClassifier(batch_size=16, optimizer="adam", learning_rate=0.01, alpha=1 / len(y_tr), max_epochs=100,
                       tol=None, random_state=0).fit(X_tr, y_tr)
    assert est.result_.backend == "numba"
    assert est.score(X_te, y_te) >= ref.score(X_te, y_te) - 0.01


# --- the kernels: the contract's entry points and the estimators on them -------------------------

def models(rng):
    X = rng.normal(size=(700, 4))
    y = X @ [1.0, -2.0, 0.5, 0.0] + 0.3 + 0.3 * rng.normal(size=700)
    return [ds.LinearRegression(X, y, l2=0.01), ds.LinearRegression(X, np.column_stack([y, -y]), bias=False),
            ds.LogisticRegression(X, (y > 0).astype(float)),
            ds.LogisticRegression(X, np.column_stack([y > 0, y > 1]).astype(float), l2=0.1),
            ds.SoftmaxRegression(X, np.digitize(y, [-1.0, 0.5, 2.0]), l2=0.01),
            ds.SoftmaxRegression(X.astype(np.float32), np.digitize(y, [0.0]), bias=False)]


def test_partial_sums_over_chunks_add_up_to_the_objective(rng):
    """loss_grad_sums on chunks of rows, added and finished, is the objective's loss and gradient:
    what a streaming or Dask engine does with chunks from disk or workers."""
    from descend import kernels

    for obj in models(rng):
        w = 0.2 * rng.normal(size=obj.n_params)
        g = np.zeros(obj.n_params)
        total = 0.0
        for lo in range(0, obj.n_samples, 250):
            total += kernels.loss_grad_sums(obj, obj.X[lo : lo + 250], obj.y[lo : lo + 250], w, g)
        loss, grad = kernels.finish(obj, total, g, obj.n_samples, w)
        ref_loss, ref_grad = obj.loss_and_grad(w)
        tol = 1e-6 if obj.X.dtype == np.float32 else 1e-12
        assert loss == pytest.approx(ref_loss, rel=tol)
        assert_allclose(grad, ref_grad, rtol=max(tol, 1e-11), atol=1e-13)
        assert kernels.full_loss_and_grad(obj, w)[0] == pytest.approx(ref_loss, rel=tol)


def test_run_steps_over_a_chunk_is_the_plain_paths_epoch(rng):
    """The per-step runner over a chunk (rows given by an order) takes the steps numpy_epoch takes."""
    from descend import kernels
    from descend.loop import numpy_epoch

    for obj in models(rng):
        order = rng.permutation(obj.n_samples)
        steps = -(-obj.n_samples // 32)
        outs = []
        for run in ("numpy", "kernel"):
            opt = ds.optim.Adam(lr=0.01)
            w = np.zeros(obj.n_params)
            state = opt.init(w)
            out = np.empty((3, steps))
            progress = np.zeros(1, dtype=np.int64)
            if run == "numpy":
                numpy_epoch(obj, w, opt, state, order, 32, out[0], out[1], out[2], progress)
            else:
                lrs = np.full(steps, 0.01)
                for first in (0, 7):  # two calls, as an engine feeding chunks of steps would make
                    last = 7 if first == 0 else steps
                    assert kernels.run_steps(obj, opt, state, w, obj.X, obj.y, order, 32, first, last, lrs,
                                             out[0], out[1], out[2], progress)
                    state.step += int(progress[0]) - first
            assert progress[0] == steps
            outs.append((w, out, state.buffers))
        (w0, o0, b0), (w1, o1, b1) = outs
        tol = 1e-6 if obj.X.dtype == np.float32 else 1e-10
        assert_allclose(o1, o0, rtol=tol)
        assert_allclose(w1, w0, rtol=tol, atol=1e-12)
        assert_allclose(b1, b0, rtol=tol, atol=1e-14)


@pytest.mark.parametrize("batch_size", [None, 1, 7])
def test_every_model_runs_on_the_kernels_with_the_plain_paths_numbers(rng, batch_size):
    for obj in models(rng):
        tol = 1e-6 if obj.X.dtype == np.float32 else 1e-10
        runs = [ds.minimize(obj, np.zeros(obj.n_params), optimizer=ds.optim.SGD(lr=0.02, momentum=0.5),
                            batch_size=batch_size, epochs=2, seed=1, backend=b) for b in ("numpy", "numba")]
        assert [r.backend for r in runs] == ["numpy", "numba"]
        assert_allclose(runs[1].history.step_loss, runs[0].history.step_loss, rtol=tol)
        assert_allclose(runs[1].history.epoch_loss, runs[0].history.epoch_loss, rtol=tol)
        assert_allclose(runs[1].w, runs[0].w, rtol=tol, atol=1e-12)


ESTIMATOR_CASES = [
    dict(batch_size=1, max_epochs=3, tol=None),
    dict(batch_size=8, max_epochs=4, tol=1e-3, n_iter_no_change=2),
    dict(batch_size=None, max_epochs=30, optimizer="adam", learning_rate=0.05, tol=None),
    dict(batch_size=16, max_epochs=20, early_stopping=True, validation_fraction=0.2, n_iter_no_change=3),
]


@pytest.mark.parametrize("kw", ESTIMATOR_CASES)
@pytest.mark.parametrize("kind", ["regressor", "binary", "softmax", "ovr"])
def test_estimators_take_the_kernels_with_the_plain_paths_numbers(rng, kw, kind):
    X = rng.normal(size=(300, 4))
    y = X @ [1.0, -2.0, 0.5, 0.0] + 0.3 + 0.3 * rng.normal(size=300)
    if kind == "regressor":
        make, target = GDRegressor, y
    else:
        target = y > 0 if kind == "binary" else np.digitize(y, [-1.0, 0.5, 2.0])
        make = (lambda **k: GDClassifier(**k, multi_class="ovr")) if kind == "ovr" else GDClassifier
    fits = {}
    for backend in ("numpy", "auto"):
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ConvergenceWarning with tol: the same on both paths
                fits[backend] = make(**kw, random_state=0, backend=backend).fit(X, target)
    plain, fast = fits["numpy"], fits["auto"]
    assert plain.result_.backend == "numpy" and fast.result_.backend == "numba"
    assert_allclose(fast.coef_, plain.coef_, rtol=1e-10, atol=1e-13)
    assert_allclose(fast.intercept_, plain.intercept_, rtol=1e-10, atol=1e-13)
    assert_allclose(fast.loss_curve_, plain.loss_curve_, rtol=1e-10)
    assert fast.n_iter_ == plain.n_iter_


def test_partial_fit_and_warm_start_take_the_kernels(rng):
    X = rng.normal(size=(1200, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=1200)
    out = {}
    for backend in ("numpy", "auto"):
        est = GDRegressor(batch_size=4, random_state=0, backend=backend)
        for lo in range(0, 1200, 300):
            est.partial_fit(X[lo : lo + 300], y[lo : lo + 300])
        warm = GDRegressor(batch_size=4, max_epochs=2, tol=None, warm_start=True, random_state=0, backend=backend)
        warm.fit(X, y).fit(X, y)
        out[backend] = (est, warm)
    for a, b in zip(out["numpy"], out["auto"]):
        assert b.result_.backend == "numba" and a.result_.backend == "numpy"
        assert_allclose(b.coef_, a.coef_, rtol=1e-10)
        assert_allclose(b.history_.step_loss, a.history_.step_loss, rtol=1e-10)


def test_compare_and_lr_find_take_the_kernels(rng):
    X = rng.normal(size=(2000, 5))
    y = X @ rng.normal(size=5) + 0.1 * rng.normal(size=2000)
    obj = ds.LinearRegression(X, y)
    comp = ds.compare(obj, np.zeros(6), runs=[dict(batch_size=None), dict(batch_size=32)], epochs=3) \
        if callable(getattr(ds, "compare", None)) else __import__("descend.compare", fromlist=["compare"]).compare(
            obj, np.zeros(6), runs=[dict(batch_size=None), dict(batch_size=32)], epochs=3)
    assert [r.backend for r in comp.results] == ["numba", "numba"]
    for batch_size in (None, 16):
        fast = ds.lr_find(obj, np.zeros(6), batch_size=batch_size, steps=60)
        plain = ds.lr_find(obj, np.zeros(6), batch_size=batch_size, steps=60, backend="numpy")
        assert fast.backend == "numba" and plain.backend == "numpy"
        assert_allclose(fast.losses, plain.losses, rtol=1e-10)
        assert fast.suggestion == pytest.approx(plain.suggestion, rel=1e-12)
        assert fast.stopped_early == plain.stopped_early and len(fast.lrs) == len(plain.lrs)

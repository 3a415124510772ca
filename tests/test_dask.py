"""The Dask engine against the in-memory fit: full batch to 1e-10 for every optimizer, local SGD
with averaging against a plain NumPy reference of the scheme, checks, stops and resumes.

One LocalCluster (2 workers x 1 thread, threads in this process) serves the module; the fault
tests start their own cluster of worker processes (tests/test_dask_faults.py)."""

import numpy as np
import pytest

import descend as ds
from descend.errors import DataError, ParameterError
from descend.monitors import Monitor

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

RTOL = 1e-10


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0",
                                  protocol="tcp") as cluster, distributed.Client(cluster) as c:
        yield c


def make(n=1000, d=4, seed=0, logistic=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    z = X @ rng.standard_normal(d) + 0.5
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float) if logistic else z + 0.1 * rng.standard_normal(n)
    return X, y


def on_dask(X, y, chunk=300, **kw):
    return ds.data.dask(da.from_array(X, chunks=(chunk, X.shape[1])), da.from_array(y, chunks=chunk), **kw)


def close(a, b, rtol=RTOL):
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * float(np.max(np.abs(b))))


OPTIMIZERS = [
    lambda: ds.optim.SGD(lr=0.05, momentum=0.9, nesterov=True),
    lambda: ds.optim.Adam(lr=0.05),
    lambda: ds.optim.AdamW(lr=0.05, amsgrad=True),
    lambda: ds.optim.NAdam(lr=0.05),
    lambda: ds.optim.RMSprop(lr=0.01, centered=True, momentum=0.5),
    lambda: ds.optim.Adagrad(lr=0.1),
    lambda: ds.optim.Adadelta(lr=1.0),
]


@pytest.mark.parametrize("make_opt", OPTIMIZERS, ids=lambda f: type(f()).__name__)
def test_full_batch_equals_the_in_memory_fit_for_every_optimizer(client, make_opt):
    X, y = make(logistic=make_opt is OPTIMIZERS[1])
    model = ds.LogisticRegression if make_opt is OPTIMIZERS[1] else ds.LinearRegression
    src = on_dask(X, y)
    w0 = np.full(5, 0.1)
    res = ds.minimize(model(src), w0, optimizer=make_opt(), epochs=10)
    ref = ds.minimize(model(X, y), w0, optimizer=make_opt(), epochs=10, backend="numpy")
    assert res.backend == "dask" and res.status == ref.status == "max_epochs"
    close(res.w, ref.w)
    close(res.history.epoch_loss, ref.history.epoch_loss)
    close(res.history.step_loss, ref.history.step_loss)
    close(res.history.grad_norm, ref.history.grad_norm)
    assert res.verdict == ref.verdict


@pytest.mark.parametrize("model, args", [(ds.SoftmaxRegression, {}), (ds.LinearRegression, {"l2": 0.05}),
                                         (ds.LogisticRegression, {"l2": 0.01, "bias": False})])
def test_full_batch_softmax_and_penalties_equal_the_in_memory_fit(client, model, args):
    X, y = make(n=800, d=3)
    if model is ds.SoftmaxRegression:
        y = np.digitize(y, np.quantile(y, [0.25, 0.5, 0.75])).astype(float)  # classes 0..3
    elif model is ds.LogisticRegression:
        y = (y > np.median(y)).astype(float)
    obj, ref = model(on_dask(X, y), **args), model(X, y, **args)
    assert obj.n_params == ref.n_params and getattr(obj, "n_classes", 0) == getattr(ref, "n_classes", 0)
    w0 = np.zeros(obj.n_params)
    res = ds.minimize(obj, w0, optimizer=ds.optim.Adam(lr=0.1), epochs=8)
    expect = ds.minimize(ref, w0, optimizer=ds.optim.Adam(lr=0.1), epochs=8, backend="numpy")
    close(res.w, expect.w)
    close(res.history.epoch_loss, expect.history.epoch_loss)
    w = np.linspace(-0.5, 0.5, obj.n_params)
    close(obj.hessian(w), ref.hessian(w))
    close(obj.smoothness(), ref.smoothness())


def test_one_pass_per_step_and_ten_adam_steps_match(client, monkeypatch):
    from descend.engines import dask as engine

    X, y = make(n=2000, d=6)
    passes = []
    real = engine._OnCluster.map_reduce
    monkeypatch.setattr(engine._OnCluster, "map_reduce", lambda self, *a, **k: passes.append(1) or real(self, *a, **k))
    obj = ds.LinearRegression(on_dask(X, y, chunk=256), bias=False)
    res = ds.minimize(obj, np.zeros(6), optimizer=ds.optim.Adam(lr=0.1), epochs=10)
    assert len(passes) == 11  # the loss and gradient at each of the 11 boundaries: the step reuses it
    ref = ds.minimize(ds.LinearRegression(X, y, bias=False), np.zeros(6), optimizer=ds.optim.Adam(lr=0.1),
                      epochs=10, backend="numba")
    close(res.w, ref.w)
    # the pass itself: loss and gradient against the plain NumPy objective, at a point off the path
    w = np.linspace(-1, 1, 6)
    loss, g = obj.loss_and_grad(w)
    ref_loss, ref_g = ds.LinearRegression(X, y, bias=False).loss_and_grad(w)
    close(loss, ref_loss)
    close(g, ref_g)


def test_dataframe_source_names_columns_and_fits_like_arrays(client):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, y = make(n=600, d=3)
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "label": ["x"] * 600, "c": X[:, 2], "y": y})
    ddf = dd.from_pandas(frame, npartitions=3)
    src = ds.data.dask(ddf, target="y", features=["a", "b", "c"])
    assert (src.n_rows, src.n_features, src.feature_names) == (600, 3, ["a", "b", "c"])
    res = ds.minimize(ds.LinearRegression(src), np.zeros(4), optimizer=ds.optim.SGD(lr=0.1), epochs=20)
    ref = ds.minimize(ds.LinearRegression(X, y), np.zeros(4), optimizer=ds.optim.SGD(lr=0.1), epochs=20)
    close(res.w, ref.w)
    with pytest.raises(DataError, match="column 'label' is not numeric"):
        ds.data.dask(ddf, target="y")
    with pytest.raises(DataError, match="target column 'z' is not in the data; its columns are a, b, label, c, y"):
        ds.data.dask(ddf, target="z")


def test_bad_values_are_named_by_row_and_column(client):
    X, y = make(n=500, d=3)
    X[437, 2] = np.nan
    obj = ds.LinearRegression(on_dask(X, y, chunk=200))
    with pytest.raises(DataError, match=r"X has a non-finite value \(nan\) at row 438 \(counting from 1\), column 'x2'"):
        obj.loss(np.zeros(4))
    X, y = make(n=500, d=3, logistic=True)
    y[301] = 2.0
    with pytest.raises(DataError, match=r"y must hold only 0 and 1; row 302 \(counting from 1\) holds 2"):
        ds.minimize(ds.LogisticRegression(on_dask(X, y, chunk=200)), np.zeros(4))
    with pytest.raises(ParameterError, match="sync must be a positive number of steps or 'epoch'"):
        on_dask(X, y, sync=0)


def local_sgd_reference(X, y, chunk, G, B, sync, epochs, seed, shuffle, make_opt, bias=True,
                        model=ds.LinearRegression, **model_args):
    """Local SGD with model averaging, written out with NumPy: G replicas (chunk i to replica
    i mod G), chunk order from (seed, epoch), rows from (seed, epoch, chunk), averages weighted by
    the steps taken every `sync` steps; the optimizer's step count advances by every replica's steps."""
    obj = model(X, y, bias=bias, **model_args)
    n = len(y)
    starts = list(range(0, n, chunk))
    opt = make_opt()
    w = np.zeros(obj.n_params)
    state = opt.init(w)
    losses, steps = [obj.loss(w)], []
    for e in range(epochs):
        visit = np.random.default_rng([seed, e]).permutation(len(starts)) if shuffle else np.arange(len(starts))
        batches = []
        for r in range(G):
            mine = []
            for c in visit:
                if c % G != r:
                    continue
                size = min(chunk, n - starts[c])
                order = np.random.default_rng([seed, e, c]).permutation(size) if shuffle else np.arange(size)
                rows = starts[c] + order
                mine += [rows[i : i + B] for i in range(0, size, B)]
            batches.append(mine)
        longest = max(len(b) for b in batches)
        every = longest if sync == "epoch" else sync
        for start in range(0, longest, every):
            done = []
            for mine in batches:
                if start >= len(mine):
                    continue
                wr, st = w.copy(), state.copy()
                for rows in mine[start : start + every]:
                    loss, g = obj.loss_and_grad(wr, rows)
                    steps.append(loss)
                    opt.step(wr, g, st)
                done.append((min(every, len(mine) - start), wr, st))
            total = sum(m for m, _, _ in done)
            w = sum(m / total * wr for m, wr, _ in done)
            state.buffers = sum(m / total * st.buffers for m, _, st in done)
            state.step += total
        losses.append(obj.loss(w))
    return w, np.array(losses), np.array(steps)


@pytest.mark.parametrize("B, sync, make_opt, model, args", [
    (3, 7, lambda: ds.optim.Adam(lr=0.01), ds.LinearRegression, {}),
    (1, "epoch", lambda: ds.optim.SGD(lr=0.01, momentum=0.5), ds.LinearRegression, {"l2": 0.01}),
    (4, 10, lambda: ds.optim.RMSprop(lr=0.01), ds.SoftmaxRegression, {"n_classes": 3}),
], ids=["adam-B3-sync7", "momentum-B1-epoch-l2", "softmax-rmsprop"])
def test_local_sgd_is_the_averaging_scheme(client, B, sync, make_opt, model, args):
    X, y = make(n=700, d=3)
    if model is ds.SoftmaxRegression:
        y = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3])).astype(float)  # classes 0, 1, 2
    src = on_dask(X, y, chunk=150, groups=2, sync=sync)  # 5 chunks: replicas of 3 and 2 chunks, uneven steps
    obj = model(src, **args)
    res = ds.minimize(obj, np.zeros(obj.n_params), optimizer=make_opt(), batch_size=B, epochs=2, seed=4)
    w, losses, steps = local_sgd_reference(X, y, 150, 2, B, sync, 2, 4, True, make_opt, model=model, **args)
    close(res.w, w)
    close(res.history.epoch_loss, losses)
    assert len(steps) == 2 * (4 * -(-150 // B) + -(-100 // B))  # chunks of 150, 150, 150, 150, 100 rows; 2 epochs
    close(res.history.step_loss, steps)


def test_one_replica_in_file_order_is_single_machine_sgd(client):
    X, y = make(n=600, d=3)
    src = on_dask(X, y, chunk=200, groups=1)  # chunks of 200 rows, batches of 8 rows: none spans two chunks
    res = ds.minimize(ds.LinearRegression(src), np.zeros(4), optimizer=ds.optim.Adam(lr=0.01), batch_size=8,
                      epochs=3, shuffle=False)
    ref = ds.minimize(ds.LinearRegression(X, y), np.zeros(4), optimizer=ds.optim.Adam(lr=0.01), batch_size=8,
                      epochs=3, shuffle=False, backend="numpy")
    close(res.w, ref.w)
    close(res.history.step_loss, ref.history.step_loss)


def test_divergence_interrupt_and_resume_behave_as_locally(client):
    X, y = make(n=800, d=4)
    src = on_dask(X, y)
    res = ds.minimize(ds.LinearRegression(src), np.zeros(5), optimizer=ds.optim.SGD(lr=3.0), epochs=50)
    ref = ds.minimize(ds.LinearRegression(X, y), np.zeros(5), optimizer=ds.optim.SGD(lr=3.0), epochs=50)
    assert res.status == ref.status == "diverged" and res.epochs == ref.epochs
    close(res.w, ref.w)

    class Interrupt(Monitor):
        def on_epoch(self, run):
            if run.epoch == 4:
                raise KeyboardInterrupt

    opt = lambda: ds.optim.Adam(lr=0.01)  # noqa: E731  (its bias correction reads the step count)
    obj = ds.LinearRegression(src)
    stopped = ds.minimize(obj, np.zeros(5), optimizer=opt(), batch_size=50, epochs=8, callbacks=[Interrupt()])
    assert stopped.status == "stopped" and "interrupted at epoch 4" in stopped.message
    assert stopped.loss == stopped.history.epoch_loss.min()
    resumed = ds.minimize(obj, np.zeros(5), optimizer=opt(), batch_size=50, epochs=8, resume=stopped.checkpoint)
    whole = ds.minimize(obj, np.zeros(5), optimizer=opt(), batch_size=50, epochs=8)
    np.testing.assert_array_equal(resumed.w, whole.w)


def test_cli_fits_parquet_on_the_cluster(client, tmp_path, capsys):
    import json

    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    from descend.cli import main

    X, y = make(n=900, d=3)
    folder = tmp_path / "data"
    folder.mkdir()
    for i in range(3):  # a folder of Parquet files, as a cluster job reads them
        pd.DataFrame({"a": X[i::3, 0], "b": X[i::3, 1], "c": X[i::3, 2], "y": y[i::3]}).to_parquet(folder / f"{i}.parquet")
    address = client.scheduler.address
    code = main(["fit", str(folder), "--target", "y", "--scheduler", address, "--optimizer", "adam", "--lr", "0.1",
                 "--epochs", "15", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["status"] == "max_epochs"
    Xf = np.concatenate([X[i::3] for i in range(3)])
    yf = np.concatenate([y[i::3] for i in range(3)])
    ref = ds.minimize(ds.LinearRegression(Xf, yf), np.zeros(4), optimizer=ds.optim.Adam(lr=0.1), epochs=15)
    close(list(out["weights"].values()), ref.w)
    assert list(out["weights"]) == ["a", "b", "c", "bias"]
    assert main(["fit", str(folder), "--target", "y", "--dask", "local:x"]) == 2
    assert "--dask takes local:N" in capsys.readouterr().err
    assert main(["fit", str(folder), "--target", "nope", "--scheduler", address]) == 1
    assert "target column 'nope' is not in the data" in capsys.readouterr().err


def test_ctrl_c_while_the_cluster_works_stops_with_the_best_weights(client):
    import _thread
    import threading

    X, y = make(n=4000, d=4)
    obj = ds.LinearRegression(on_dask(X, y, chunk=1000, sync=50))  # many short rounds: Ctrl-C lands in one

    class CtrlC(Monitor):
        def on_epoch(self, run):
            if run.epoch == 1:
                threading.Timer(0.2, _thread.interrupt_main).start()

    res = ds.minimize(obj, np.zeros(5), optimizer=ds.optim.SGD(lr=0.01), batch_size=1, epochs=10_000,
                      callbacks=[CtrlC()])
    assert res.status == "stopped" and "interrupted at epoch" in res.message and 1 <= res.epochs < 10_000
    assert res.loss == res.history.epoch_loss.min()
    assert len(res.history.step_loss) % 50 == 0  # whole rounds only: a cancelled round leaves no steps
    ok = obj.loss(res.w)  # the cluster still answers
    assert ok == pytest.approx(ds.LinearRegression(X, y).loss(res.w), rel=1e-10)


def test_curvature_rows_and_solution_are_computed_on_the_cluster(client):
    X, y = make(n=900, d=3, logistic=True)
    for model in (ds.LinearRegression, ds.LogisticRegression):
        obj, ref = model(on_dask(X, y, chunk=200)), model(X, y)
        w = np.array([0.3, -0.2, 0.1, 0.05])
        close(obj.hessian(w), ref.hessian(w))
        close(obj.smoothness(), ref.smoothness())
        rows = np.array([5, 899, 0, 417])
        close(obj.loss_and_grad(w, rows)[1], ref.loss_and_grad(w, rows)[1])
        close(obj.loss(w, rows), ref.loss(w, rows))
        assert ds.diagnose.curvature(obj, w) == pytest.approx(ds.diagnose.curvature(ref, w), rel=1e-10)
    close(ds.LinearRegression(on_dask(X, y)).solution(), ds.LinearRegression(X, y).solution(), rtol=1e-9)
    with pytest.raises(ParameterError, match="the source holds the targets"):
        ds.LinearRegression(on_dask(X, y), y)

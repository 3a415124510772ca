"""Without a distributed Client the Dask engine runs on dask's default scheduler, in this process.

(Its own module: the other Dask tests keep a module-wide Client, which would be the current one.)"""

import numpy as np
import pytest

import descend as ds

da = pytest.importorskip("dask.array")


def test_without_a_client_it_runs_on_the_default_scheduler():
    from descend.engines.dask import current_client

    rng = np.random.default_rng(3)
    X = rng.standard_normal((500, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.standard_normal(500)
    assert current_client() is None
    src = ds.data.dask(da.from_array(X, chunks=(128, 3)), da.from_array(y, chunks=128))
    obj = ds.LinearRegression(src)
    res = ds.minimize(obj, np.zeros(4), optimizer=ds.optim.Adam(lr=0.1), epochs=5)
    ref = ds.minimize(ds.LinearRegression(X, y), np.zeros(4), optimizer=ds.optim.Adam(lr=0.1), epochs=5)
    assert res.backend == "dask" and type(src.persisted().where).__name__ == "_InProcess"
    np.testing.assert_allclose(res.w, ref.w, rtol=1e-10)
    # local SGD runs there too: one replica per thread of the default scheduler (at most one per chunk)
    sgd = ds.minimize(obj, np.zeros(4), optimizer=ds.optim.SGD(lr=0.01), batch_size=1, epochs=2)
    assert sgd.status == "max_epochs" and sgd.history.epoch_loss[-1] < 0.05 * sgd.history.epoch_loss[0]


def test_a_source_outlives_its_client():
    distributed = pytest.importorskip("distributed")
    X = np.random.default_rng(4).standard_normal((300, 2))
    y = X @ np.array([2.0, -1.0])
    src = ds.data.dask(da.from_array(X, chunks=(100, 2)), da.from_array(y, chunks=100))
    obj = ds.LinearRegression(src, bias=False)
    for _ in range(2):  # the second Client finds the first one's chunks gone and persists them anew
        with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as cluster, \
                distributed.Client(cluster) as client:
            assert obj.loss(np.zeros(2)) == pytest.approx(float(np.mean(y**2)), rel=1e-12)
            assert src.persisted().where.client is client

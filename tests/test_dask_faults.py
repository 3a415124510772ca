"""A Dask worker process killed in the middle of a run (LocalCluster with processes).

Either Dask recomputes the lost chunks from the source and the run finishes with the numbers of
an undisturbed run, or (data that cannot be recomputed) the run stops with the best weights, a
checkpoint that resumes it exactly, and a message naming the lost worker."""

import os
import signal

import numpy as np
import pytest

import descend as ds
from descend.monitors import Monitor

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as c:
        yield c


class KillWorker(Monitor):
    """At epoch ``at``, SIGKILL the process of worker ``address`` (default: the first by address), as a crash would."""

    def __init__(self, client, at, address=None):
        self.client, self.at, self.address, self.killed = client, at, address, None

    def on_epoch(self, run):
        if run.epoch == self.at and self.killed is None:
            pids = self.client.run(os.getpid)
            self.killed = self.address or sorted(pids)[0]
            os.kill(pids[self.killed], signal.SIGKILL)


def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4000, 3))
    return X, X @ np.array([1.0, -1.0, 2.0]) + 0.1 * rng.standard_normal(4000)


def test_a_killed_worker_is_recomputed_and_the_numbers_do_not_change(client):
    X, y = data()
    src = ds.data.dask(da.from_array(X, chunks=(500, 3)), da.from_array(y, chunks=500))
    kill = KillWorker(client, at=3)
    before = set(client.scheduler_info()["workers"])
    res = ds.minimize(ds.LinearRegression(src), np.zeros(4), optimizer=ds.optim.Adam(lr=0.1), epochs=8,
                      callbacks=[kill])
    assert kill.killed in before and kill.killed not in client.scheduler_info()["workers"]
    ref = ds.minimize(ds.LinearRegression(X, y), np.zeros(4), optimizer=ds.optim.Adam(lr=0.1), epochs=8)
    assert res.status == "max_epochs"
    np.testing.assert_allclose(res.w, ref.w, rtol=1e-10)
    np.testing.assert_allclose(res.history.epoch_loss, ref.history.epoch_loss, rtol=1e-10)


def test_data_that_cannot_be_recomputed_stops_with_the_best_weights_and_names_the_worker(client):
    X, y = data()
    # chunks scattered from this process to the worker that will die, and one replica (its home
    # is that worker too): once it is gone, no copy is left and no task can rebuild them
    client.wait_for_workers(2, timeout=120)  # the worker killed by the test before is back
    victim = sorted(client.nthreads())[0]
    xs = client.scatter([X[i : i + 500] for i in range(0, 4000, 500)], workers=[victim])
    ys = client.scatter([y[i : i + 500] for i in range(0, 4000, 500)], workers=[victim])
    Xd = da.concatenate([da.from_delayed(f, shape=(500, 3), dtype=float) for f in xs])
    yd = da.concatenate([da.from_delayed(f, shape=(500,), dtype=float) for f in ys])
    kill = KillWorker(client, at=3, address=victim)
    opt = lambda: ds.optim.Adam(lr=0.1)  # noqa: E731
    res = ds.minimize(ds.LinearRegression(ds.data.dask(Xd, yd, groups=1)), np.zeros(4), optimizer=opt(), epochs=8,
                      callbacks=[kill])
    assert kill.killed == victim and res.status == "stopped"
    assert f"the Dask worker {kill.killed} was lost" in res.message and "could not be recomputed" in res.message
    assert res.loss == res.history.epoch_loss.min()
    np.testing.assert_array_equal(res.w, res.history.w[np.argmin(res.history.epoch_loss)])
    # the checkpoint resumes the run on the data brought back (here: a fresh source), exactly
    client.wait_for_workers(2, timeout=120)  # the nanny's new worker process is up again
    src = ds.data.dask(da.from_array(X, chunks=(500, 3)), da.from_array(y, chunks=500))
    resumed = ds.minimize(ds.LinearRegression(src), np.zeros(4), optimizer=opt(), epochs=8, resume=res.checkpoint)
    ref = ds.minimize(ds.LinearRegression(X, y), np.zeros(4), optimizer=opt(), epochs=8)
    assert resumed.status == "max_epochs" and res.checkpoint["epoch"] >= 3
    np.testing.assert_allclose(resumed.w, ref.w, rtol=1e-10)

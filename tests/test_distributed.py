"""resode.distributed on a LocalCluster of worker processes: results equal the
local calls, do not depend on the number of workers, survive a killed worker;
bad clusters and bad data give clear errors; sweeps through joblib's Dask backend."""

from __future__ import annotations

import contextlib
import os
import pickle
import signal

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

import resode  # noqa: E402
import resode.distributed as rd  # noqa: E402
from resode import datasets  # noqa: E402


@contextlib.contextmanager
def local_client(n_workers: int, processes: bool = True, default: bool = False):
    """A client of a new LocalCluster of one-thread workers (closed on exit); the
    default client (as joblib's Dask backend wants) when asked."""
    with (
        distributed.LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=processes, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster, set_as_default=default) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def client():
    with local_client(2, default=True) as c:
        yield c


@pytest.fixture(scope="module")
def one_worker():
    with local_client(1, processes=False) as c:
        yield c


def _data(n=600, d=4, L=5, seed=0):
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    return X, Y, 0.3 * rng.normal(size=(L, d, d)), 0.3 * rng.normal(size=(L, d)), rng


def _close(a, b, rtol):
    scale = np.abs(b).max()
    assert np.abs(a - b).max() <= rtol * scale, (np.abs(a - b).max(), scale)


def test_loss_and_grad_equals_the_local_call(client):
    X, Y, V, b, rng = _data()
    w = rng.uniform(0.5, 2, len(X))
    opts = dict(w1=0.2, w2=0.1, sample_weight=w, scheme="heun")
    got = rd.loss_and_grad(X, Y, V, b, client=client, **opts)
    want = resode.loss_and_grad(X, Y, V, b, **opts)
    assert got.loss == pytest.approx(want.loss, rel=1e-12)
    _close(got.dV, want.dV, 1e-12)
    _close(got.db, want.db, 1e-12)

    labels = rng.integers(0, 3, len(X))
    W, mu = rng.normal(size=(3, 4)), np.zeros(3)
    kw = dict(head="softmax", W=W, mu=mu, w2=1e-2, w_head=0.5)
    # Dask inputs; the labels' row chunks differ from X's and are rechunked
    Xd, yd = da.from_array(X, chunks=(150, 4)), da.from_array(labels, chunks=200)
    got = rd.loss_and_grad(Xd, yd, V, b, client=client, **kw)
    want = resode.loss_and_grad(X, labels, V, b, **kw)
    assert got.loss == pytest.approx(want.loss, rel=1e-12)
    for name in ("dV", "db", "dW", "dmu"):
        _close(getattr(got, name), getattr(want, name), 1e-12)


def test_result_is_the_same_for_every_run_and_number_of_workers(client, one_worker):
    X, Y, V, b, _ = _data(n=2000)
    Xd, Yd = da.from_array(X, chunks=(300, 4)), da.from_array(Y, chunks=(300, 4))
    first = rd.loss_and_grad(Xd, Yd, V, b, client=client, w2=0.1)
    again = rd.loss_and_grad(Xd, Yd, V, b, client=client, w2=0.1)
    single = rd.loss_and_grad(Xd, Yd, V, b, client=one_worker, w2=0.1)
    for other in (again, single):
        assert other.loss == first.loss
        np.testing.assert_array_equal(other.dV, first.dV)
        np.testing.assert_array_equal(other.db, first.db)


def _classifier(seed=0):
    return resode.ResNetODE(4, 6, head="softmax", n_classes=3, w2=1e-3, seed=seed)


@pytest.mark.parametrize(
    "kw",
    [
        dict(optimizer="gd", lr=0.5, epochs=4),
        dict(optimizer="lbfgs", epochs=8),
        dict(optimizer="adam", epochs=2, batch_size=128, seed=3),
    ],
    ids=["gd", "lbfgs", "adam-minibatch"],
)
def test_fit_history_equals_local_fit(client, kw):
    X, *_ = _data()
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 1)
    local, remote = _classifier(), _classifier()
    h_local = resode.fit(local, X, y, progress=False, **kw)
    h_remote = rd.fit(remote, X, y, client=client, progress=False, **kw)
    assert h_remote.epoch == h_local.epoch
    np.testing.assert_allclose(h_remote.loss, h_local.loss, rtol=1e-10)
    np.testing.assert_allclose(h_remote.accuracy, h_local.accuracy)
    _close(remote.V, local.V, 1e-9)


def test_fit_of_a_model_with_an_opening_layer_equals_local_fit(client):
    X, *_ = _data()
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 1)

    def model():
        return resode.ResNetODE(
            6, 4, input_dim=4, opening_activation="tanh", head="softmax", n_classes=3,
            w2=1e-3, w_head=1e-2, seed=1,
        )  # fmt: skip

    local, remote = model(), model()
    kw = dict(optimizer="adam", epochs=2, batch_size=128, seed=3, progress=False)
    h_local = resode.fit(local, X, y, **kw)
    h_remote = rd.fit(remote, X, y, client=client, **kw)
    np.testing.assert_allclose(h_remote.loss, h_local.loss, rtol=1e-10)
    for name in ("V", "K0", "c0", "W"):
        _close(getattr(remote, name), getattr(local, name), 1e-9)


def test_steps_move_no_data_between_workers(client):
    # the shards stay where they were computed: a step's tasks run beside their
    # shard, so no worker fetches data from another, whatever N is; only setting
    # the shards up (the same for any number of epochs) may move data
    def transfers(dask_worker):
        return dask_worker.state.transfer_incoming_count_total

    for n in (1000, 20000):
        X, _, _, _, rng = _data(n=n)
        y = rng.integers(0, 3, n)
        moved = []
        for epochs in (1, 6):
            before = sum(client.run(transfers).values())
            rd.fit(
                _classifier(), X, y, client=client, optimizer="gd", epochs=epochs, progress=False
            )
            moved.append(sum(client.run(transfers).values()) - before)
        assert moved[0] == moved[1], moved


def test_fit_survives_a_killed_worker():
    X, _, _, _, rng = _data(n=800)
    y = rng.integers(0, 3, len(X))
    want = resode.fit(_classifier(), X, y, optimizer="gd", lr=0.5, epochs=6, progress=False)
    with local_client(2) as c:
        killed = []

        def kill_a_worker(epoch, logs, model):
            if epoch == 2 and not killed:
                worker, pid = sorted(c.run(os.getpid).items())[0]
                killed.append(worker)
                os.kill(pid, signal.SIGKILL)  # its shard dies with it; the nanny restarts it

        model = _classifier()
        got = rd.fit(
            model, X, y, client=c, optimizer="gd", lr=0.5, epochs=6, progress=False,
            callbacks=[kill_a_worker],
        )  # fmt: skip
    assert killed and got.stop_reason == "completed"
    np.testing.assert_allclose(got.loss, want.loss, rtol=1e-10)


def test_bad_clusters_give_clear_errors():
    X, Y, V, b, _ = _data(n=50)
    with distributed.Client(
        distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None),
        set_as_default=False,
    ) as empty:
        with pytest.raises(RuntimeError, match="has no workers"):
            rd.loss_and_grad(X, Y, V, b, client=empty)
    with distributed.LocalCluster(n_workers=1, processes=True, dashboard_address=None) as cluster:
        c = distributed.Client(cluster, set_as_default=False)
        # a worker that cannot import resode
        c.run(lambda: __import__("sys").modules.update({"resode": None}))
        with pytest.raises(RuntimeError, match="cannot import resode"):
            rd.loss_and_grad(X, Y, V, b, client=c)
        c.close()
        with pytest.raises(RuntimeError, match="not running"):
            rd.loss_and_grad(X, Y, V, b, client=c)
    with pytest.raises(TypeError, match=r"client must be a distributed\.Client"):
        rd.loss_and_grad(X, Y, V, b, client="tcp://nowhere:1")


def test_bad_data_names_the_shard(client):
    X, Y, V, b, _ = _data(n=400)
    X[310, 1] = np.nan
    Xd = da.from_array(X, chunks=(100, 4))
    with pytest.raises(ValueError, match=r"rows 300\.\.399.*non-finite"):
        rd.loss_and_grad(Xd, Y, V, b, client=client)
    with pytest.raises(ValueError, match=r"rows 300\.\.399.*non-finite"):
        rd.fit(resode.ResNetODE(4, 5), Xd, Y, client=client, progress=False)
    Xu = da.from_array(X, chunks=(100, 4))
    Xu = Xu[Xu[:, 0] > 0]  # boolean indexing: unknown chunk sizes
    with pytest.raises(ValueError, match="unknown size"):
        rd.loss_and_grad(Xu, Y, V, b, client=client)
    with pytest.raises(ValueError, match="Y has 300 rows but X has 400"):
        rd.loss_and_grad(Xd, Y[:300], V, b, client=client)
    big = np.ones((400, 4)) * 1e300
    Vbig = np.full_like(V, 1e10)
    with pytest.raises(resode.NonFiniteError, match=r"rows 0\.\.\d+: non-finite state"):
        rd.loss_and_grad(big, Y, Vbig, b, client=client, form="outer", activation="identity")
    with pytest.raises(ValueError, match="MSA"):
        rd.fit(resode.ResNetODE(4, 5), X, Y, client=client, optimizer="msa")


def test_grid_search_on_the_cluster_equals_the_serial_run(client):
    joblib = pytest.importorskip("joblib")
    from sklearn.model_selection import GridSearchCV

    from resode.sklearn import ResNetODEClassifier

    X, *_ = _data(n=200)
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    grid = {"n_layers": [4, 8], "T": [1.0, 2.0]}
    est = ResNetODEClassifier(epochs=20, random_state=0, threads=1)
    serial = GridSearchCV(est, grid, cv=2).fit(X, y)
    with joblib.parallel_backend("dask"):
        remote = GridSearchCV(est, grid, cv=2).fit(X, y)
    np.testing.assert_array_equal(
        remote.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    assert remote.best_params_ == serial.best_params_


def test_model_is_picklable_for_shipping():
    model = _classifier()
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.V, model.V)
    X = np.random.default_rng(0).normal(size=(10, 4))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))


def _cli(*args, cwd):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "resode", *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize("where", ["--workers", "--scheduler"])
def test_command_line_trains_on_a_cluster_as_locally(tmp_path, where):
    X, y = datasets.moons(300, seed=0)
    np.savez(tmp_path / "moons.npz", X=X, y=y)
    common = ("train", "moons.npz", "--optimizer", "gd", "--epochs", 5, "--layers", 6)
    local = _cli(*common, "--out", "local.npz", cwd=tmp_path)
    assert local.returncode == 0, local.stderr
    with contextlib.ExitStack() as stack:
        if where == "--workers":
            extra = ("--workers", 2)
        else:
            cluster = stack.enter_context(
                distributed.LocalCluster(n_workers=1, processes=True, dashboard_address=None)
            )
            extra = ("--scheduler", cluster.scheduler_address)
        remote = _cli(*common, *extra, "--out", "remote.npz", cwd=tmp_path)
    assert remote.returncode == 0, remote.stderr
    a, b = resode.load(tmp_path / "local.npz"), resode.load(tmp_path / "remote.npz")
    np.testing.assert_allclose(b.V, a.V, rtol=1e-9, atol=1e-12)


def test_command_line_cluster_errors(tmp_path):
    X, y = datasets.moons(50, seed=0)
    np.savez(tmp_path / "moons.npz", X=X, y=y)
    both = _cli("train", "moons.npz", "--workers", 1, "--scheduler", "tcp://x:1", cwd=tmp_path)
    assert both.returncode == 2 and "not both" in both.stderr
    zero = _cli("train", "moons.npz", "--workers", 0, cwd=tmp_path)
    assert zero.returncode == 2 and "--workers must be >= 1" in zero.stderr


def test_worker_threads(client):
    # Dask's workers run with OMP_NUM_THREADS=1; resode gets its threads explicitly:
    # the worker's own nthreads by default, or threads_per_worker
    assert set(client.run(os.environ.get, "OMP_NUM_THREADS").values()) == {"1"}
    assert client.submit(rd._threads, None, pure=False).result() == 1
    assert client.submit(rd._threads, 3, pure=False).result() == 3


def test_ctrl_c_stops_between_steps_as_locally(client):
    X, _, _, _, rng = _data(n=300)
    y = rng.integers(0, 3, len(X))

    def interrupt(epoch, logs, model):
        if epoch == 1:
            raise KeyboardInterrupt

    model = _classifier()
    with pytest.warns(RuntimeWarning, match="interrupted after 2 epochs"):
        history = rd.fit(model, X, y, client=client, optimizer="gd", epochs=5, progress=False,
                         callbacks=[interrupt])  # fmt: skip
    assert history.stop_reason == "interrupted" and len(history) == 2


def test_threads_per_worker_reach_the_kernel(one_worker, monkeypatch):
    # one_worker runs in this process, so the kernel call can be watched
    seen = []
    real = rd.F.checked_cost  # every cost call's options are checked here

    def watched(X, Y, V, b, net_kw, *args, **kwargs):
        seen.append(net_kw["threads"])  # None: the driver's regulariser call
        return real(X, Y, V, b, net_kw, *args, **kwargs)

    monkeypatch.setattr(rd.F, "checked_cost", watched)
    X, Y, V, b, _ = _data(n=100)
    rd.loss_and_grad(X, Y, V, b, client=one_worker, threads_per_worker=2)
    assert set(seen) == {2, None}
    seen.clear()
    rd.loss_and_grad(X, Y, V, b, client=one_worker)  # the worker's own nthreads: 1
    assert set(seen) == {1, None}
    seen.clear()
    rd.fit(_classifier(), X, (X[:, 0] > 0).astype(int), client=one_worker, optimizer="gd",
           epochs=1, progress=False, threads_per_worker=2)  # fmt: skip
    assert seen and set(seen) <= {2, None}

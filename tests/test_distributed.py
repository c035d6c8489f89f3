"""The Ray engine on a real local Ray cluster (one for the whole module: 2 CPUs, a small object store): sharded
and replicated exact k-NN equal a float64 brute force computed here (tie-heavy grids, memory-mapped files, own
rows excluded), Ray Data extraction writes the same run directory as the local pass (and the embeddings of one
``extract()``), ``analyze_from(..., engine=RayExecutor)`` equals ``analyze``, a killed actor is restarted and its
blocks recomputed with the same result, and no Ray process outlives the module. Without Ray's engine asked for,
nothing imports Ray."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import difficulty_widget as dw
from difficulty_widget.extract import extract, train_small_model
from difficulty_widget.pipeline.demo import demo_data

ray = pytest.importorskip("ray", reason='the Ray engine tests need ray: pip install "difficulty-widget[test]"')

from difficulty_widget.pipeline.distributed import RayExecutor  # noqa: E402


def _session_processes(session: str) -> list[int]:
    """The processes whose command line names this Ray session (raylet, GCS, workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if session.encode() in cmdline:
                pids.append(int(entry.name))
    return pids


@pytest.fixture(scope="module")
def cluster():
    """One local cluster for the module, shut down after it; then no process of its session may be left."""
    if ray.is_initialized():
        pytest.skip("a Ray cluster is already connected in this process")
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=300 * 2**20, log_to_driver=False)
    session = Path(ray._private.worker._global_node.get_session_dir_path()).name
    assert _session_processes(session), "the local cluster's processes should be visible"
    yield session
    ray.shutdown()
    deadline = time.monotonic() + 20
    while _session_processes(session) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _session_processes(session) == [], "Ray processes were left after shutdown"


def brute(query: np.ndarray, support: np.ndarray, k: int, own: np.ndarray | None = None):
    """float64 distances, the first k by (distance, index), a query's own row left out."""
    q, s = query.astype(np.float64), support.astype(np.float64)
    d = ((q[:, None, :] - s[None, :, :]) ** 2).sum(-1)
    if own is not None:
        d[np.arange(len(q)), own] = np.inf
    order = np.lexsort((np.broadcast_to(np.arange(len(s)), d.shape), d), axis=-1)[:, :k]
    return order, np.take_along_axis(d, order, 1)


@pytest.mark.parametrize("shards", [1, 2])
def test_sharded_and_replicated_knn_equal_brute_force_on_ties(cluster, shards, tmp_path):
    rng = np.random.default_rng(shards)
    support = rng.integers(0, 3, (2500, 6)).astype(np.float32)  # 729 grid points: most 30th distances tie
    query = rng.integers(0, 3, (300, 6)).astype(np.float32)
    np.save(tmp_path / "support.npy", support)
    on_disk = np.load(tmp_path / "support.npy", mmap_mode="r")
    with RayExecutor(workers=2, shards=shards, query_rows=128, timeout_s=120) as engine:
        for sup in (support, on_disk[500:]):  # in the object store; a memmap view the actors map themselves
            want_idx, want_d = brute(query, np.asarray(sup), 30)
            nn = engine.nearest_neighbours(query, sup, 30)
            assert engine.last_search["mode"] == ("replicated" if shards == 1 else "sharded")
            np.testing.assert_array_equal(nn.indices, want_idx)
            np.testing.assert_array_equal(nn.sq_distances, want_d)
        # the support set against itself, each row's own entry excluded
        sub = on_disk[:1200]
        want_idx, want_d = brute(np.asarray(sub), np.asarray(sub), 30, own=np.arange(1200))
        nn = engine.nearest_neighbours(sub, sub, 30, exclude_self=True)
        np.testing.assert_array_equal(nn.indices, want_idx)
        np.testing.assert_array_equal(nn.sq_distances, want_d)
        assert engine.last_search["blocks"] == 10


def test_ray_knn_on_real_probes_equals_the_in_process_engine(cluster):
    from difficulty_widget.measures.knn import nearest_neighbours

    data = demo_data("digits")
    train, test = data.where_split("train"), data.where_split("test")
    model = train_small_model(train, "cnn", epochs=1, seed=0, progress=False).model
    probes = extract(model, train, probes="blocks", progress=False).probes
    queries = extract(model, test, probes="blocks", progress=False).probes
    with RayExecutor(workers=1, shards=1, query_rows=100) as engine:
        for name, support in probes.items():
            want = nearest_neighbours(queries[name], support, 30)
            got = engine.nearest_neighbours(queries[name], support, 30)
            np.testing.assert_array_equal(got.indices, want.indices, err_msg=name)
            np.testing.assert_array_equal(got.sq_distances, want.sq_distances, err_msg=name)


@pytest.fixture(scope="module")
def digits_case():
    data = demo_data("digits")
    train = data.where_split("train").subset(np.arange(300))
    test = data.where_split("test").subset(np.arange(100))
    model = train_small_model(train, "cnn", epochs=2, seed=0, progress=False).model
    return train, test, model, dw.analyze(model, train, test, progress=False)


def test_ray_data_extraction_writes_the_local_run_bit_for_bit(cluster, digits_case, tmp_path):
    train, test, model, _ = digits_case
    local = dw.extract_to(tmp_path / "local", model, train, test, part_rows=64, progress=False)
    with RayExecutor(workers=1, timeout_s=300) as engine:
        remote = dw.extract_to(tmp_path / "ray", model, train, test, part_rows=64, progress=False, engine=engine)
    assert remote.complete
    for name in local.manifest["probes"]:
        np.testing.assert_array_equal(remote.probe(name), local.probe(name), err_msg=name)
    rows_local, logits_local = local.rows()
    rows_remote, logits_remote = remote.rows()
    pd.testing.assert_frame_equal(rows_remote, rows_local, check_exact=True)
    np.testing.assert_array_equal(logits_remote, logits_local)
    for a, b in zip(local.parts(), remote.parts(), strict=True):  # the same checksums, part by part
        assert a.record.read_text() == b.record.read_text()
    # and the embeddings of one extract() over the same rows
    ex = extract(model, train, probes=list(local.manifest["probes"]), max_probe_dim=4096, progress=False)
    for name in local.manifest["probes"]:
        np.testing.assert_array_equal(remote.probe(name)[:300], ex.probes[name], err_msg=name)


def test_analyze_from_on_ray_equals_analyze(cluster, digits_case, tmp_path):
    train, test, model, want = digits_case
    dw.extract_to(tmp_path / "run", model, train, test, part_rows=128, progress=False)
    with RayExecutor(workers=2, shards=2, query_rows=64) as engine:
        got = dw.analyze_from(tmp_path / "run", engine=engine, progress=False)
        assert engine.last_search["mode"] == "sharded"
    pd.testing.assert_frame_equal(got.df, want.df, check_exact=True)
    for name in want.tables:
        pd.testing.assert_frame_equal(got.tables[name], want.tables[name], check_exact=True)


def test_a_killed_actor_is_restarted_and_its_blocks_recomputed(cluster, tmp_path):
    rng = np.random.default_rng(7)
    support = rng.standard_normal((6000, 48)).astype(np.float32)
    query = rng.standard_normal((2400, 48)).astype(np.float32)
    want_idx, want_d = brute(query, support, 30)
    engine = RayExecutor(workers=1, query_rows=60, timeout_s=120, max_restarts=2)
    try:
        engine.nearest_neighbours(query[:60], support, 30)  # the actor is up
        (first_pid,) = engine.worker_pids[0]
        result = {}
        search = threading.Thread(target=lambda: result.update(nn=engine.nearest_neighbours(query, support, 30)))
        search.start()
        deadline = time.monotonic() + 60
        while engine.completed_calls < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert engine.completed_calls < 40, "the search ended before the kill: make it longer"
        os.kill(first_pid, signal.SIGKILL)  # mid-search, with calls in flight
        search.join(timeout=180)
        assert not search.is_alive()
        assert len(engine.worker_pids[0]) == 2, "the actor should have come back in a new process"
        np.testing.assert_array_equal(result["nn"].indices, want_idx)
        np.testing.assert_array_equal(result["nn"].sq_distances, want_d)
    finally:
        engine.close()


def test_more_workers_than_cpus_are_refused_before_any_work(cluster):
    with pytest.raises(ValueError, match=r"3 workers x 1 CPUs need 3 CPUs but the cluster has 2"):
        RayExecutor(workers=3)
    with pytest.raises(ValueError, match="shards must be"):
        RayExecutor(workers=2, shards=3)


def test_the_local_path_never_imports_ray(tmp_path):
    code = f"""
import sys, numpy as np
import difficulty_widget as dw
from difficulty_widget.pipeline.demo import demo_data
from difficulty_widget.extract import train_small_model
data = demo_data("digits")
train, test = data.where_split("train").subset(np.arange(120)), data.where_split("test").subset(np.arange(40))
model = train_small_model(train, "cnn", epochs=1, seed=0, progress=False).model
dw.analyze(model, train, test, progress=False)
dw.extract_to({str(tmp_path / "run")!r}, model, train, test, progress=False)
dw.analyze_from({str(tmp_path / "run")!r}, progress=False)
assert "ray" not in sys.modules, sorted(m for m in sys.modules if m.startswith("ray"))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]

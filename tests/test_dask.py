"""Scale-out on Dask: ``--scheduler`` runs the same units on a cluster's workers.

A ``distributed.LocalCluster`` of two single-threaded worker processes is
started in the test process; ``skcells reproduce`` and ``skcells generate``
run on it through joblib's Dask backend and must give the local results:
the same table (but for the timings) and the same bytes.  Without
``dask.distributed`` the module is skipped, unless ``SKCELLS_REQUIRE_DASK=1``
(CI installs the ``dask`` extra for it) turns the skip into a failure.
"""

import os

import numpy as np
import pandas as pd
import pytest

from skcells.cli import main

try:
    import distributed
except ImportError:  # pragma: no cover - depends on the installation
    distributed = None
    if os.environ.get("SKCELLS_REQUIRE_DASK") == "1":
        pytest.fail(
            "SKCELLS_REQUIRE_DASK=1 but dask.distributed is not installed: "
            "pip install -e '.[dask]'",
            pytrace=False,
        )
    pytest.skip(
        "needs dask.distributed: pip install -e '.[dask]'", allow_module_level=True
    )

TIMINGS = ["fit_seconds", "predict_seconds"]


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes and their scheduler."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        worker_dashboard_address=None,
    ) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def local_smoke(tmp_path_factory):
    """``skcells reproduce --scale smoke`` in local processes."""
    out = tmp_path_factory.mktemp("local") / "results"
    data = tmp_path_factory.mktemp("data")
    argv = ["reproduce", "--scale", "smoke", "--out", str(out)]
    assert main([*argv, "--data-home", str(data)]) == 0
    return pd.read_csv(out / "results.csv")


def test_reproduce_on_dask_equals_local(cluster, local_smoke, tmp_path, monkeypatch):
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    out = tmp_path / "results"
    argv = ["reproduce", "--scale", "smoke", "--out", str(out)]
    argv += ["--data-home", str(tmp_path / "data"), "--scheduler"]
    with distributed.Client(cluster.scheduler_address) as client:
        with distributed.get_task_stream(client) as stream:
            assert main([*argv, cluster.scheduler_address]) == 0
        # the workers ran the 7 runs (1 WBC, 4 RBC, 2 digits): joblib's
        # tasks are named batch_of_<function>_<calls>_calls-<id>
        calls = [t["key"].split("-")[0].split("_calls")[0] for t in stream.data]
        assert all(c.startswith("batch_of__remote_job_") for c in calls)
        assert sum(int(c.rsplit("_", 1)[1]) for c in calls) == 7
    remote = pd.read_csv(out / "results.csv")
    pd.testing.assert_frame_equal(
        remote.drop(columns=TIMINGS), local_smoke.drop(columns=TIMINGS)
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "fig1_sample_frames.png",
        "fig2_competence.png",
        "fig4_validation_curves.png",
        "fig_conditions.png",
        "results.csv",
        "results.md",
    ]


def _generate(tmp_path, name, *extra):
    home = tmp_path / name
    argv = ["generate", "--n-videos", "9", "--n-frames", "12", "--size", "16"]
    argv += ["--data-home", str(home), "--no-progress", *extra]
    assert main(argv) == 0
    folder = [f for f in (home / "synthetic_blood_videos").iterdir() if f.is_dir()]
    assert len(folder) == 1
    return folder[0]


def test_generate_on_dask_writes_the_local_bytes(
    cluster, tmp_path, monkeypatch, capsys
):
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    local = _generate(tmp_path, "local", "--n-jobs", "1")
    # the environment convention, with one task per video (n_jobs=9 blocks)
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.scheduler_address)
    with distributed.Client(cluster.scheduler_address) as client:
        with distributed.get_task_stream(client) as stream:
            remote = _generate(tmp_path, "remote", "--n-jobs", "9")
    assert len(stream.data) >= 2  # blocks rendered by the workers
    assert local.name == remote.name  # the same cache key
    for name in ("data.npy", "metadata.npz"):
        assert (local / name).read_bytes() == (remote / name).read_bytes()
    video = np.load(remote / "data.npy")
    assert video.shape == (9, 12, 3, 16, 16) and video.any()


def test_scheduler_needs_distributed(monkeypatch, tmp_path, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "distributed" else real(name, *a),
    )
    argv = ["generate", "--n-videos", "2", "--n-frames", "2", "--size", "8"]
    argv += ["--data-home", str(tmp_path), "--scheduler", "tcp://127.0.0.1:1"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'skcells[dask]'" in err[0]


def test_cuda_runs_need_gpu_workers(cluster, tmp_path):
    from skcells.experiments import run_experiments

    with pytest.raises(ValueError, match="--resources GPU=1"):
        run_experiments(
            series=[3],
            scale="smoke",
            device="cuda",
            progress=False,
            data_home=tmp_path,
            scheduler=cluster.scheduler_address,
        )


def test_unreachable_scheduler_is_a_one_line_error(tmp_path, capsys):
    import dask

    argv = ["reproduce", "--scale", "smoke", "--series", "3", "--out", str(tmp_path)]
    argv += ["--data-home", str(tmp_path / "data"), "--scheduler", "tcp://127.0.0.1:9"]
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("skcells reproduce: error: ")
    assert "127.0.0.1:9" in err[0]


def test_a_cluster_without_workers_is_a_one_line_error(tmp_path, capsys):
    argv = ["generate", "--n-videos", "2", "--n-frames", "2", "--size", "8"]
    argv += ["--data-home", str(tmp_path), "--no-progress"]
    with distributed.LocalCluster(n_workers=0, dashboard_address=":0") as empty:
        assert main([*argv, "--scheduler", empty.scheduler_address]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has no worker" in err[0]
    assert not any((tmp_path / "synthetic_blood_videos").glob("*/data.npy"))


@pytest.mark.timeout(300)
def test_cuda_runs_go_to_the_gpu_workers(tmp_path):
    """A run asks for the GPU resource; this worker has it but no CUDA."""
    import torch

    from skcells.experiments import run_experiments

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the run would train instead of failing")

    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        resources={"GPU": 1},
        dashboard_address=":0",
    ) as gpu_cluster:
        with pytest.raises(RuntimeError, match="no CUDA GPU is visible"):
            run_experiments(
                series=[3],
                scale="smoke",
                seeds=[1],
                device="cuda",
                progress=False,
                data_home=tmp_path,
                scheduler=gpu_cluster.scheduler_address,
            )

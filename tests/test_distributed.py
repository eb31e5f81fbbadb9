"""Several ``skcells tune`` workers on one study in a real PostgreSQL server.

The server is a throwaway cluster (see ``tests/_postgres.py``) on a loopback
port, stopped at the end of the module.  The workers are separate processes
running the command line, as on separate machines; they share the model
cache of one data home, so one of them fits the smoke-scale model and the
others load it.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import _postgres
import optuna
import pytest

from skcells.cli import main
from skcells.tuning import best_trial, load_or_create_study, make_storage

optuna.logging.set_verbosity(optuna.logging.WARNING)

# The throwaway server (one per module) and a fresh database per test.
postgres_server = _postgres.postgres_server
postgres_url = _postgres.postgres_url

WORKER_TIMEOUT = 300  # seconds; a safety net against a hung worker, not a check
HEARTBEAT = ["--heartbeat-interval", "1", "--grace-period", "2"]


@pytest.fixture(scope="module")
def shared_data_home(tmp_path_factory):
    """One data home for every worker of the module (dataset and model cache)."""
    return tmp_path_factory.mktemp("shared_data")


def start_worker(url, out, data_home, *extra):
    """Start ``skcells tune`` at smoke scale in a new process."""
    env = dict(
        os.environ,
        SKCELLS_DATA=str(data_home),
        OMP_NUM_THREADS="1",
        PYTHONUNBUFFERED="1",
    )
    argv = [
        sys.executable,
        "-m",
        "skcells.cli",
        "tune",
        "--storage",
        url,
        "--study",
        "shared",
        "--create",
        "--scale",
        "smoke",
        "--out",
        str(out),
        *extra,
    ]
    return subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def finish(proc):
    """Wait for a worker; return its exit status and output."""
    try:
        output, _ = proc.communicate(timeout=WORKER_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        pytest.fail(f"worker {proc.pid} hung:\n{output}")
    return proc.returncode, output


def worker_id(proc):
    return f"{socket.gethostname()}:{proc.pid}"


def read_run(out):
    return json.loads((out / "run.json").read_text())


def test_three_workers_record_every_trial_once(
    postgres_url, shared_data_home, tmp_path, capsys
):
    n_trials = 4
    outs = [tmp_path / f"worker{i}" for i in range(3)]
    procs = [
        start_worker(postgres_url, out, shared_data_home, "--n-trials", str(n_trials))
        for out in outs
    ]
    results = [finish(p) for p in procs]
    for status, output in results:
        assert status == 0, output

    study = load_or_create_study("shared", postgres_url)
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 3 * n_trials
    assert sorted(t.number for t in trials) == list(range(3 * n_trials))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)

    # Each worker's own record of its trials matches the study, exactly once.
    by_number = {t.number: t for t in trials}
    claimed = []
    for proc, out in zip(procs, outs):
        run = read_run(out)
        assert run["worker"] == worker_id(proc)
        assert len(run["trials_run"]) == n_trials
        for number in run["trials_run"]:
            assert by_number[number].user_attrs["worker"] == run["worker"]
        claimed += run["trials_run"]
    assert sorted(claimed) == list(range(3 * n_trials))

    # Everyone scored on one model, fitted once for the study.
    models = {read_run(out)["model_sha256"] for out in outs}
    assert len(models) == 1 and None not in models
    assert study.user_attrs["skcells:model_sha256"] in models

    # The best trial is the same seen from each worker: reading the finished
    # study (``skcells tune --report``, three independent storage
    # connections), and in the record of the worker that finished last, which
    # saw every trial complete.
    final = best_trial(study)
    for i in range(3):
        out = tmp_path / f"report{i}"
        argv = ["tune", "--storage", postgres_url, "--study", "shared", "--report"]
        assert main([*argv, "--out", str(out)]) == 0
        best = read_run(out)["best_trial"]
        assert (best["number"], best["value"]) == (final.number, final.value)
    assert f"best trial #{final.number}:" in capsys.readouterr().out
    saw_all = [
        read_run(out)["best_trial"]
        for out in outs
        if read_run(out)["states"] == {"COMPLETE": 3 * n_trials}
    ]
    assert saw_all, "the last worker to finish must see every trial complete"
    for best in saw_all:
        assert (best["number"], best["value"]) == (final.number, final.value)
    for out in outs:
        assert read_run(out)["best_trial"]["value"] <= final.value


def test_killed_worker_leaves_the_study_usable(
    postgres_url, shared_data_home, tmp_path
):
    n_trials = 3
    victim = start_worker(
        postgres_url,
        tmp_path / "victim",
        shared_data_home,
        "--n-trials",
        "500",
        *HEARTBEAT,
    )
    others = [
        start_worker(
            postgres_url,
            tmp_path / f"w{i}",
            shared_data_home,
            "--n-trials",
            str(n_trials),
            *HEARTBEAT,
        )
        for i in range(2)
    ]
    victim_id = worker_id(victim)
    # Kill the victim with SIGKILL once it has finished a trial, mid-run.
    deadline = time.monotonic() + WORKER_TIMEOUT
    study = None
    storage = make_storage(postgres_url)  # one connection pool for the polling
    while time.monotonic() < deadline:
        if victim.poll() is not None:
            pytest.fail(f"victim exited early:\n{victim.communicate()[0]}")
        try:
            study = load_or_create_study("shared", storage)
        except ValueError:  # not created yet
            time.sleep(0.5)
            continue
        done = [
            t
            for t in study.get_trials(deepcopy=False)
            if t.user_attrs.get("worker") == victim_id and t.state.is_finished()
        ]
        if done:
            break
        time.sleep(0.3)
    else:
        pytest.fail("the victim never finished a trial")
    victim.send_signal(signal.SIGKILL)
    victim.communicate()
    assert victim.returncode == -signal.SIGKILL
    assert not (tmp_path / "victim" / "run.json").exists()  # no report of a dead run

    for proc in others:
        status, output = finish(proc)
        assert status == 0, output

    study = load_or_create_study("shared", postgres_url)
    trials = study.get_trials(deepcopy=False)
    for proc, out in zip(others, (tmp_path / "w0", tmp_path / "w1")):
        mine = [t for t in trials if t.user_attrs.get("worker") == worker_id(proc)]
        assert len(mine) == n_trials
        assert all(t.state == optuna.trial.TrialState.COMPLETE for t in mine)
        assert sorted(t.number for t in mine) == read_run(out)["trials_run"]
    victims = [t for t in trials if t.user_attrs.get("worker") == victim_id]
    assert victims and sum(t.state.name == "COMPLETE" for t in victims) >= 1
    # Only the trial it was running when killed may be unfinished.
    assert sum(t.state.name == "RUNNING" for t in victims) <= 1

    # A new worker (here in the test's process) runs its trials and marks
    # the killed worker's abandoned trial as failed: its last heartbeat is
    # older than the 2 s grace period by then.
    time.sleep(2)
    late = [
        "tune", "--storage", postgres_url, "--study", "shared", "--scale", "smoke",
        "--n-trials", "2", "--data-home", str(shared_data_home),
        "--out", str(tmp_path / "late"), *HEARTBEAT,
    ]  # fmt: skip
    assert main(late) == 0
    study = load_or_create_study("shared", postgres_url)
    trials = study.get_trials(deepcopy=False)
    states = {t.state.name for t in trials}
    assert "RUNNING" not in states
    assert len(read_run(tmp_path / "late")["trials_run"]) == 2
    assert len({t.number for t in trials}) == len(trials)
    # A trial without a worker stamp was created by ask() in a worker killed
    # before its objective ran: only the victim can leave one, and it fails.
    orphans = [t for t in trials if "worker" not in t.user_attrs]
    assert len(orphans) <= 1
    assert all(t.state.name == "FAIL" for t in orphans)
    for t in trials:
        if t.user_attrs.get("worker") == victim_id:
            assert t.state.name in ("COMPLETE", "FAIL")
        elif "worker" in t.user_attrs:
            assert t.state.name == "COMPLETE"


# ----------------------------------------------------------- the harness itself


def test_trial_orphaned_before_its_first_heartbeat_is_failed(
    postgres_url, shared_data_home, tmp_path
):
    """A worker killed between ``ask()`` and its first heartbeat leaves a
    RUNNING trial without a heartbeat, which Optuna's own stale check skips;
    the next worker marks it FAIL once the grace period has passed."""
    common = [
        "tune", "--storage", postgres_url, "--study", "orphan", "--scale", "smoke",
        "--data-home", str(shared_data_home), *HEARTBEAT,
    ]  # fmt: skip
    assert (
        main([*common, "--create", "--n-trials", "1", "--out", str(tmp_path / "a")])
        == 0
    )
    study = load_or_create_study("orphan", postgres_url)
    orphan = study.ask()  # what a worker killed right after ask() leaves behind
    time.sleep(2.5)
    assert main([*common, "--n-trials", "1", "--out", str(tmp_path / "b")]) == 0
    study = load_or_create_study("orphan", postgres_url)
    states = {t.number: t.state.name for t in study.get_trials(deepcopy=False)}
    assert states[orphan.number] == "FAIL"
    assert sorted(states.values()) == ["COMPLETE", "COMPLETE", "FAIL"]


def test_cluster_is_stopped_and_removed_even_when_the_body_fails():
    try:
        _postgres.find_pg_bin()
        _postgres._server_account()
    except _postgres.PostgresUnavailable as exc:
        _postgres._unavailable(str(exc))
    with pytest.raises(RuntimeError, match="body failed"):
        with _postgres.postgres_cluster() as cluster:
            root, port = cluster.root, cluster.port
            assert cluster.is_running()
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass
            raise RuntimeError("body failed")
    assert not root.exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_missing_binaries_skip_or_fail_with_the_reason(monkeypatch):
    monkeypatch.setattr(_postgres.shutil, "which", lambda name: None)
    monkeypatch.setattr(_postgres.glob, "glob", lambda pattern: [])
    with pytest.raises(_postgres.PostgresUnavailable, match="install-postgres"):
        _postgres.find_pg_bin()
    monkeypatch.delenv("SKCELLS_REQUIRE_POSTGRES", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not found"):
        _postgres._unavailable("PostgreSQL server binaries not found")
    monkeypatch.setenv("SKCELLS_REQUIRE_POSTGRES", "1")
    with pytest.raises(pytest.fail.Exception, match="SKCELLS_REQUIRE_POSTGRES"):
        _postgres._unavailable("PostgreSQL server binaries not found")

"""A throwaway PostgreSQL server for the distributed-tuning tests.

:func:`postgres_cluster` runs ``initdb`` into a fresh temporary folder,
starts ``postgres`` with ``pg_ctl`` on a free loopback port (TCP on
127.0.0.1 only, its unix socket inside the temporary folder), and stops it
with ``pg_ctl stop -m fast`` when the ``with`` block ends, also when the
block raised.  ``initdb`` refuses to run as root, so a root caller runs the
server binaries as an unprivileged account (``postgres`` by default, which
Debian's ``postgresql`` package creates; ``SKCELLS_PG_USER`` names another)
and hands the temporary folder to it.

The pytest fixtures ``postgres_server`` (one server per test module) and
``postgres_url`` (a fresh database per test) skip the test with the reason
when the binaries are missing; with ``SKCELLS_REQUIRE_POSTGRES=1`` in the
environment (for CI) they fail instead, so a missing server cannot pass
silently.
"""

import contextlib
import dataclasses
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

SUPERUSER = "skcells"
_REQUIRE_ENV = "SKCELLS_REQUIRE_POSTGRES"
_USER_ENV = "SKCELLS_PG_USER"


class PostgresUnavailable(RuntimeError):
    """The machine cannot run a throwaway PostgreSQL server."""


def find_pg_bin():
    """Return the folder holding ``initdb``, ``pg_ctl`` and ``postgres``.

    ``PATH`` is searched first, then ``/usr/lib/postgresql/<version>/bin``
    (Debian's layout, newest version first).

    Returns
    -------
    bin_dir : pathlib.Path

    Raises
    ------
    PostgresUnavailable
        When no folder holds all three programs.
    """
    names = ("initdb", "pg_ctl", "postgres")
    initdb = shutil.which("initdb")
    candidates = []
    if initdb:
        candidates.append(Path(os.path.realpath(initdb)).parent)

    def version_key(path):
        match = re.search(r"/postgresql/(\d+)", path)
        return int(match.group(1)) if match else -1

    for found in sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=version_key, reverse=True
    ):
        candidates.append(Path(found))
    for bin_dir in candidates:
        if all(os.access(bin_dir / name, os.X_OK) for name in names):
            return bin_dir
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in "
        "PATH nor /usr/lib/postgresql/*/bin; run .ci/install-postgres"
    )


def _free_port():
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_account():
    """Return ``(uid, gid)`` to run the server as, or None to run as we are."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get(_USER_ENV, "postgres")
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise PostgresUnavailable(
            f"running as root and there is no unprivileged account {name!r} to "
            "run PostgreSQL as (initdb refuses root); create one or set "
            f"{_USER_ENV}"
        ) from None
    if entry.pw_uid == 0:
        raise PostgresUnavailable(f"{_USER_ENV}={name!r} is root; initdb refuses it")
    return entry.pw_uid, entry.pw_gid


@dataclasses.dataclass
class PostgresCluster:
    """A running throwaway server (see :func:`postgres_cluster`)."""

    root: Path
    port: int
    bin_dir: Path
    account: tuple | None
    log_file: Path

    @property
    def data_dir(self):
        """The cluster's data folder."""
        return self.root / "data"

    def url(self, database="postgres"):
        """Return the SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+psycopg2://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def connect(self, database="postgres"):
        """Return an autocommit psycopg2 connection to ``database``."""
        import psycopg2

        conn = psycopg2.connect(
            host="127.0.0.1",
            port=self.port,
            user=SUPERUSER,
            dbname=database,
            connect_timeout=5,
        )
        conn.autocommit = True
        return conn

    def create_database(self, name):
        """Create an empty database and return its SQLAlchemy URL."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"database name must be a plain identifier, got {name!r}")
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE {name}")
        finally:
            conn.close()
        return self.url(name)

    def is_running(self):
        """Whether ``pg_ctl status`` reports a running server."""
        result = self._run(["pg_ctl", "status", "-D", str(self.data_dir)], check=False)
        return result.returncode == 0

    def log_tail(self, n_chars=2000):
        """The end of the server log, for error messages."""
        try:
            return self.log_file.read_text(errors="replace")[-n_chars:]
        except OSError:
            return ""

    def _run(self, argv, *, check=True, timeout=60):
        """Run a server program as the server account, in the cluster folder."""
        argv = [str(self.bin_dir / argv[0]), *argv[1:]]
        kwargs = {}
        if self.account is not None:
            uid, gid = self.account
            kwargs.update(user=uid, group=gid, extra_groups=[])
        env = dict(os.environ, LC_ALL="C", LANG="C")
        result = subprocess.run(
            argv,
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            **kwargs,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} failed with status {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}\n{self.log_tail()}"
            )
        return result


@contextlib.contextmanager
def postgres_cluster(*, start_attempts=3):
    """Run a throwaway PostgreSQL server for the duration of a ``with`` block.

    Parameters
    ----------
    start_attempts : int, default=3
        Ports tried before giving up (another process may take the free port
        between choosing it and binding it).

    Yields
    ------
    cluster : PostgresCluster
        The running server; ``cluster.url(db)`` is a SQLAlchemy URL.

    Raises
    ------
    PostgresUnavailable
        When the binaries or an unprivileged account are missing.
    """
    bin_dir = find_pg_bin()
    account = _server_account()
    # Not pytest's tmp_path: its parents are private to root, and the
    # server account must be able to reach the data folder.
    root = Path(tempfile.mkdtemp(prefix="skcells-pg-"))
    cluster = PostgresCluster(
        root=root,
        port=0,
        bin_dir=bin_dir,
        account=account,
        log_file=root / "server.log",
    )
    started = False
    try:
        (root / "socket").mkdir()
        if account is not None:
            for path in (root, root / "socket"):
                os.chown(path, *account)
        cluster._run(
            [
                "initdb",
                "-D",
                str(cluster.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ],
            timeout=120,
        )
        for attempt in range(start_attempts):
            cluster.port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {cluster.port} "
                f"-k {root / 'socket'} -F -c max_connections=60 "
                "-c shared_buffers=16MB -c dynamic_shared_memory_type=mmap"
            )
            result = cluster._run(
                [
                    "pg_ctl",
                    "start",
                    "-D",
                    str(cluster.data_dir),
                    "-l",
                    str(cluster.log_file),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    options,
                ],
                check=False,
                timeout=90,
            )
            if result.returncode == 0:
                started = True
                break
            # pg_ctl may have left a server behind that failed to bind.
            cluster._run(
                ["pg_ctl", "stop", "-D", str(cluster.data_dir), "-m", "immediate"],
                check=False,
            )
            time.sleep(0.2 * (attempt + 1))
        if not started:
            raise RuntimeError("PostgreSQL did not start:\n" + cluster.log_tail())
        yield cluster
    finally:
        if started:
            stop = cluster._run(
                ["pg_ctl", "stop", "-D", str(cluster.data_dir), "-m", "fast", "-w"],
                check=False,
            )
            if stop.returncode != 0:
                cluster._run(
                    ["pg_ctl", "stop", "-D", str(cluster.data_dir), "-m", "immediate"],
                    check=False,
                )
        shutil.rmtree(root, ignore_errors=True)


def _unavailable(reason):
    """Skip the test, or fail it when CI requires PostgreSQL."""
    if os.environ.get(_REQUIRE_ENV, "") not in ("", "0"):
        pytest.fail(f"{_REQUIRE_ENV} is set but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def postgres_server():
    """One throwaway PostgreSQL server per test module."""
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        _unavailable("psycopg2 is not installed (pip install -e '.[dev]')")
    try:
        find_pg_bin()
        _server_account()
    except PostgresUnavailable as exc:
        _unavailable(str(exc))
    with postgres_cluster() as cluster:
        yield cluster


@pytest.fixture
def postgres_url(postgres_server, request):
    """The SQLAlchemy URL of a fresh, empty database on the module's server."""
    name = re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:40]
    name = f"t{os.getpid()}_{int(time.monotonic() * 1000) % 10**8}_{name}"
    return postgres_server.create_database(name[:63])

"""Optuna storages and studies: local by default, any Optuna URL to scale out.

A study that only one machine works on lives in an embedded journal file in
the output folder (Optuna's :class:`~optuna.storages.JournalStorage` with a
:class:`~optuna.storages.journal.JournalFileBackend`, which several processes
on one machine may share).  Several machines share a study through a
database URL such as ``postgresql+psycopg2://user@host/db``: every worker
runs the same command against it.  Database connections time out after a few
seconds so that an unreachable server is reported at once, and a worker's
heartbeat lets the others mark the trial of a crashed worker as failed.
"""

import logging
import os
import random
import time
import warnings
from pathlib import Path

import optuna

from ..utils import check_bool, check_int, check_option, check_real

logger = logging.getLogger(__name__)

#: File name of the default embedded storage inside the output folder.
_DEFAULT_JOURNAL = "optuna-journal.log"
#: Suffixes of a path that :func:`make_storage` reads as a journal file.
_JOURNAL_SUFFIXES = (".log", ".journal", ".jsonl")
#: Upper bound of the timeouts, heartbeat and grace period, in seconds (a
#: day): beyond it the database drivers' and datetime's numbers overflow.
_MAX_SECONDS = 86400


def make_storage(
    storage=None,
    *,
    out_dir=None,
    connect_timeout=5,
    heartbeat_interval=None,
    grace_period=None,
):
    """Open an Optuna storage: a local journal file or a database URL.

    Parameters
    ----------
    storage : str, path-like, optuna.storages.BaseStorage or None, default=None
        Where the study lives:

        - None: the journal file ``out_dir / "optuna-journal.log"``;
        - a database URL containing ``"://"`` (``sqlite:///study.db``,
          ``postgresql+psycopg2://user:password@host:5432/db``, ...): an
          :class:`~optuna.storages.RDBStorage`;
        - a path-like, or a string ending in ``.log``, ``.journal`` or
          ``.jsonl``: that journal file;
        - a storage object: returned unchanged.
    out_dir : str or path-like, default=None
        Folder of the default journal file (created if missing); required
        when ``storage`` is None.
    connect_timeout : float, default=5
        Seconds a database connection may take before the storage is
        reported unreachable, in ``(0, 86400]``.
    heartbeat_interval : int, default=None
        For database storages, seconds between the heartbeats a running trial
        writes.  With a heartbeat, a trial whose worker died is marked
        ``FAIL`` (by :func:`optuna.storages.fail_stale_trials`, which every
        worker calls before each trial) once ``grace_period`` has passed.
        None disables it.  Journal files have no heartbeat.  At most 86400.
    grace_period : int, default=None
        Seconds without a heartbeat after which a running trial is stale;
        Optuna uses ``2 * heartbeat_interval`` when None.  At most 86400.

    Returns
    -------
    storage : optuna.storages.BaseStorage
        The opened storage.

    Raises
    ------
    ValueError
        For a malformed or unreachable storage, or bad parameters.
    TypeError
        For a ``storage`` of the wrong type.

    Examples
    --------
    >>> import tempfile
    >>> from skcells.tuning import make_storage
    >>> storage = make_storage(out_dir=tempfile.mkdtemp())
    >>> type(storage).__name__
    'JournalStorage'
    >>> storage = make_storage("sqlite:///:memory:")
    >>> type(storage).__name__
    'RDBStorage'
    """
    check_real(connect_timeout, "connect_timeout", low=0, low_open=True)
    for name, value in (
        ("heartbeat_interval", heartbeat_interval),
        ("grace_period", grace_period),
    ):
        if value is not None:
            check_int(value, name, low=1)
    for name, value in (
        ("connect_timeout", connect_timeout),
        ("heartbeat_interval", heartbeat_interval),
        ("grace_period", grace_period),
    ):
        if value is not None and value > _MAX_SECONDS:
            raise ValueError(
                f"{name} must be at most {_MAX_SECONDS} seconds (a day), got {value!r}."
            )
    if grace_period is not None and heartbeat_interval is None:
        raise ValueError(
            "grace_period needs a heartbeat: pass heartbeat_interval too, got "
            f"grace_period={grace_period!r} and heartbeat_interval=None."
        )

    if isinstance(storage, optuna.storages.BaseStorage):
        return storage
    if storage is None and out_dir is None:
        raise ValueError(
            "storage=None keeps the study in a journal file in out_dir; pass "
            "out_dir (a folder) or an Optuna storage URL."
        )
    if storage is None and not isinstance(out_dir, str | os.PathLike):
        raise TypeError(
            f"out_dir must be a str or path-like, got {type(out_dir).__name__}."
        )
    if not isinstance(storage, str | os.PathLike | None):
        raise TypeError(
            "storage must be None, an Optuna storage URL, a journal file path or "
            f"an optuna.storages.BaseStorage, got {type(storage).__name__}."
        )
    journal = _journal_path(storage, out_dir)
    if journal is not None:
        return _journal_storage(journal)
    if "://" in storage:
        return _rdb_storage(
            storage,
            connect_timeout=connect_timeout,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
        )
    raise ValueError(
        f"storage must be an Optuna storage URL (e.g. 'sqlite:///study.db' or "
        f"'postgresql+psycopg2://user@host:5432/db') or a journal file path "
        f"ending in one of {_JOURNAL_SUFFIXES}, got {storage!r}."
    )


def describe_storage(storage, *, out_dir=None):
    """Return a short, password-free description of a storage for messages.

    Parameters
    ----------
    storage : str, path-like, optuna.storages.BaseStorage or None
        A storage as accepted by :func:`make_storage`.
    out_dir : str or path-like, default=None
        Folder of the default journal file, as for :func:`make_storage`.

    Returns
    -------
    text : str
        The storage, with any password replaced by ``***``.

    Examples
    --------
    >>> from skcells.tuning import describe_storage
    >>> describe_storage("postgresql+psycopg2://me:secret@db.lan:5432/opt")
    'postgresql+psycopg2://me:***@db.lan:5432/opt'
    """
    if isinstance(storage, str) and "://" in storage:
        return _hide_password(storage)
    if storage is None and isinstance(out_dir, str | os.PathLike):
        storage = Path(out_dir) / _DEFAULT_JOURNAL
    if isinstance(storage, str | os.PathLike):
        return f"journal file {os.fspath(storage)}"
    # A storage object: Optuna has no public accessor for the file of a
    # JournalStorage (``_backend._file_path``), so this is the one place that
    # reads Optuna's private attributes; a database storage has ``url``.
    obj = storage
    for _ in range(3):
        url = getattr(obj, "url", None)
        if isinstance(url, str):
            return _hide_password(url)
        path = getattr(obj, "_file_path", None)
        if path is not None:
            return f"journal file {path}"
        obj = getattr(obj, "_backend", None)
        if obj is None:
            break
    return type(storage).__name__


def load_or_create_study(
    study_name,
    storage=None,
    *,
    create=False,
    direction="maximize",
    sampler=None,
    out_dir=None,
    connect_timeout=5,
    heartbeat_interval=None,
    grace_period=None,
):
    """Load a study from a storage, or create it when ``create=True``.

    Several workers may call this at the same time with ``create=True``: one
    of them creates the study and the others load it.

    Parameters
    ----------
    study_name : str
        Name of the study in the storage.
    storage : str, path-like, optuna.storages.BaseStorage or None, default=None
        See :func:`make_storage`.
    create : bool, default=False
        Create the study when the storage does not hold it yet.  Without it
        an unknown study is an error, so that a typo in the name cannot
        silently start a new, empty study.
    direction : {"maximize", "minimize"}, default="maximize"
        Direction of a new study; an existing study must have the same one.
    sampler : optuna.samplers.BaseSampler, default=None
        Sampler of this worker's study object (Optuna's default when None).
    out_dir : str or path-like, default=None
        Folder of the default journal file, see :func:`make_storage`.
    connect_timeout : float, default=5
        See :func:`make_storage`.
    heartbeat_interval : int, default=None
        See :func:`make_storage`.
    grace_period : int, default=None
        See :func:`make_storage`.

    Returns
    -------
    study : optuna.Study
        The study, bound to the storage.

    Raises
    ------
    ValueError
        For an unknown study without ``create``, a direction mismatch, an
        unreachable storage or bad parameters.

    Examples
    --------
    >>> import tempfile
    >>> from skcells.tuning import load_or_create_study
    >>> out = tempfile.mkdtemp()
    >>> study = load_or_create_study("demo", out_dir=out, create=True)
    >>> study.study_name, study.direction.name
    ('demo', 'MAXIMIZE')
    >>> load_or_create_study("other", out_dir=out)
    Traceback (most recent call last):
    ...
    ValueError: study_name='other' does not exist in journal file ...
    """
    if not isinstance(study_name, str) or not study_name.strip():
        raise ValueError(f"study_name must be a non-empty string, got {study_name!r}.")
    check_option(direction, "direction", ("maximize", "minimize"))
    check_bool(create, "create")
    journal = _journal_path(storage, out_dir)
    if not create and journal is not None and not journal.exists():
        # Opening would create an empty journal file for nothing.
        raise ValueError(
            f"study_name={study_name!r} does not exist in journal file {journal} "
            "(the file does not exist); create it with create=True (skcells tune "
            "--create)."
        )
    opened = make_storage(
        storage,
        out_dir=out_dir,
        connect_timeout=connect_timeout,
        heartbeat_interval=heartbeat_interval,
        grace_period=grace_period,
    )
    where = describe_storage(storage, out_dir=out_dir)
    if create:
        study = optuna.create_study(
            storage=opened,
            study_name=study_name,
            direction=direction,
            sampler=sampler,
            load_if_exists=True,
        )
        if study.direction.name.lower() != direction:
            raise ValueError(
                f"study {study_name!r} in {where} exists with direction "
                f"{study.direction.name.lower()!r}, got direction={direction!r}."
            )
        return study
    try:
        opened.get_study_id_from_name(study_name)
    except KeyError:
        names = sorted(s.study_name for s in opened.get_all_studies())
        raise ValueError(
            f"study_name={study_name!r} does not exist in {where} (studies there: "
            f"{names or 'none'}); create it with create=True (skcells tune "
            "--create)."
        ) from None
    return optuna.load_study(study_name=study_name, storage=opened, sampler=sampler)


def _journal_path(storage, out_dir):
    """The journal file that :func:`make_storage` would open, else None."""
    if storage is None and isinstance(out_dir, str | os.PathLike):
        return Path(out_dir) / _DEFAULT_JOURNAL
    if isinstance(storage, os.PathLike):
        return Path(storage)
    if (
        isinstance(storage, str)
        and "://" not in storage
        and storage.endswith(_JOURNAL_SUFFIXES)
    ):
        return Path(storage)
    return None


def _journal_storage(path):
    """Open (creating its folder) a journal file storage."""
    from optuna.storages.journal import JournalFileBackend

    if path.exists() and path.is_dir():
        raise ValueError(
            f"storage journal file {str(path)!r} is a folder; pass a file path."
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        backend = JournalFileBackend(str(path))
    except OSError as exc:
        raise ValueError(
            f"cannot open the storage journal file {str(path)!r}: {exc}"
        ) from exc
    try:
        # replays every line of the journal
        return optuna.storages.JournalStorage(backend)
    except OSError as exc:
        raise ValueError(
            f"cannot read the storage journal file {str(path)!r}: {exc}"
        ) from exc
    except (
        KeyError,
        IndexError,
        TypeError,
        ValueError,
        AttributeError,
        AssertionError,
    ) as exc:
        # Optuna replays the lines without checking them: a line that is not
        # one of its operations fails with whatever error its fields cause
        # (an unknown operation code with an AssertionError).
        raise ValueError(
            f"the storage journal file {str(path)!r} is malformed (a line is not "
            f"an Optuna journal operation: {type(exc).__name__}: {exc}); restore "
            "it from a backup or use another --out/--storage."
        ) from exc


def _rdb_storage(url, *, connect_timeout, heartbeat_interval, grace_period):
    """Open a database storage, failing fast when the server is unreachable."""
    import sqlalchemy
    import sqlalchemy.exc

    try:
        parsed = sqlalchemy.engine.make_url(url)
    except sqlalchemy.exc.ArgumentError as exc:
        raise ValueError(
            f"storage {_hide_password(url)!r} is not a valid database URL: {exc}"
        ) from exc
    backend = parsed.get_backend_name()
    engine_kwargs = {"pool_pre_ping": True}
    if backend == "sqlite":
        engine_kwargs["connect_args"] = {"timeout": float(connect_timeout)}
    elif backend in ("postgresql", "mysql", "mariadb"):
        engine_kwargs["connect_args"] = {
            "connect_timeout": max(1, int(round(connect_timeout)))
        }
    shown = _hide_password(url)
    # Probe the server first, so that "unreachable" is told apart from the
    # errors of schema creation below.
    try:
        engine = sqlalchemy.create_engine(url, **engine_kwargs)
    except (sqlalchemy.exc.SQLAlchemyError, ImportError) as exc:
        raise ValueError(
            f"cannot open the storage {shown!r}: {_first_line(exc)}"
        ) from exc
    try:
        with engine.connect():
            pass
    except sqlalchemy.exc.SQLAlchemyError as exc:
        reason = _first_line(getattr(exc, "orig", None) or exc)
        raise ValueError(
            f"storage {shown!r} is unreachable (connect timeout {connect_timeout} "
            f"s): {reason}"
        ) from exc
    finally:
        engine.dispose()
    # Workers started together race to create the schema; the loser of the
    # race sees a duplicate-object error and simply opens the storage again.
    attempts = 6
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                )
        except sqlalchemy.exc.SQLAlchemyError as exc:
            if attempt == attempts - 1:
                raise ValueError(
                    f"cannot initialise the storage {shown!r}: {_first_line(exc)}"
                ) from exc
            logger.info("storage schema creation raced another worker; retrying")
            time.sleep(0.1 + random.random() * 0.4 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def _hide_password(url):
    """Render a database URL with its password masked."""
    try:
        import sqlalchemy

        parsed = sqlalchemy.engine.make_url(url)
        if parsed.password is None:
            return url
        return parsed.render_as_string(hide_password=True)
    except Exception:  # a malformed URL is shown without its secret
        head, sep, tail = url.rpartition("@")
        return f"***@{tail}" if sep else url


def _first_line(exc):
    """The first non-empty line of an exception's message."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__

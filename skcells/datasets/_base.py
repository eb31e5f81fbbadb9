"""The data home: the folder that holds every skcells dataset cache."""

import importlib.resources
import os
import shutil
from pathlib import Path

_ENV_DATA_HOME = "SKCELLS_DATA"


def get_data_home(data_home=None):
    """Return the folder where skcells keeps its dataset caches.

    The folder is, in order of precedence: ``data_home`` when given, the
    ``SKCELLS_DATA`` environment variable when set and not empty, else
    ``sklearn.datasets.get_data_home() / "skcells"`` (by default
    ``~/scikit_learn_data/skcells``).  It is created if missing.

    Parameters
    ----------
    data_home : str or path-like, default=None
        An explicit folder.

    Returns
    -------
    data_home : pathlib.Path
        The existing data folder.

    Examples
    --------
    >>> import tempfile
    >>> from skcells.datasets import get_data_home
    >>> home = get_data_home(tempfile.mkdtemp())
    >>> home.is_dir()
    True
    """
    if data_home is None:
        # An empty variable means unset, not the current folder.
        data_home = os.environ.get(_ENV_DATA_HOME) or None
    if data_home is None:
        from sklearn.datasets import get_data_home as sk_data_home

        data_home = Path(sk_data_home()) / "skcells"
    if not isinstance(data_home, str | os.PathLike):
        raise TypeError(
            f"data_home must be a str or path-like, got {type(data_home).__name__}."
        )
    if not os.fspath(data_home):
        raise ValueError("data_home must be a folder path, got an empty string.")
    path = Path(data_home).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ValueError(
            f"data_home must be a folder, got {str(path)!r}, which is or lies "
            "under an existing file."
        ) from None
    return path


def clear_data_home(data_home=None):
    """Delete every skcells cache in the data home.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder, resolved as in :func:`get_data_home`.
    """
    shutil.rmtree(get_data_home(data_home))


def load_descr(file_name):
    """Return the text of a dataset description shipped in ``descr/``.

    Parameters
    ----------
    file_name : str
        The file name inside ``skcells/datasets/descr``.

    Returns
    -------
    text : str
        The reStructuredText description.
    """
    folder = importlib.resources.files("skcells.datasets") / "descr"
    return (folder / file_name).read_text(encoding="utf-8")

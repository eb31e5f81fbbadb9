"""Downloads that fail fast, with a message that says what to do offline."""

import contextlib
import logging
import socket
import time
import urllib.parse

logger = logging.getLogger(__name__)

__all__ = ["check_reachable", "download_error", "network_timeout"]

#: Seconds a connection or a read may stall before a download gives up.
DEFAULT_TIMEOUT = 20.0


@contextlib.contextmanager
def network_timeout(seconds=DEFAULT_TIMEOUT):
    """Bound socket operations that set no timeout of their own.

    Inside the block, sockets created without an explicit timeout (urllib's
    ``urlopen`` and ``urlretrieve``, used by scikit-learn's ``fetch_file``
    and ``torch.hub``) give up after ``seconds`` of silence instead of
    waiting for the system's TCP timeout.  A default timeout the program
    has set already is kept.

    Parameters
    ----------
    seconds : float, default=20.0
        The timeout.

    Yields
    ------
    None

    Examples
    --------
    >>> import socket
    >>> from skcells.utils import network_timeout
    >>> with network_timeout(5.0):
    ...     socket.getdefaulttimeout()
    5.0
    >>> socket.getdefaulttimeout() is None
    True
    """
    previous = socket.getdefaulttimeout()
    if previous is None:
        socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        if previous is None:
            socket.setdefaulttimeout(None)


def check_reachable(url, *, what, offline, timeout=5.0, attempts=2, delay=0.5):
    """Fail fast when the server of ``url`` cannot be reached.

    Opens (and closes) a TCP connection to the URL's host and port, at most
    ``attempts`` times, ``delay`` seconds apart, each bounded by ``timeout``:
    a few seconds in all, instead of the long retry loops of some download
    clients.

    Parameters
    ----------
    url : str
        The address that is about to be downloaded.
    what : str
        What is being fetched, for the message (``"the ViT weights"``).
    offline : str
        What to do instead without internet, for the message.
    timeout : float, default=5.0
        Seconds per attempt.
    attempts : int, default=2
        Connection attempts.
    delay : float, default=0.5
        Seconds between attempts.

    Raises
    ------
    ConnectionError
        Naming ``what``, the address, the reason and ``offline``.

    Examples
    --------
    >>> from skcells.utils import check_reachable
    >>> check_reachable("http://127.0.0.1:9/w.pt", what="the weights",
    ...                 offline="pass a local file", attempts=1)
    Traceback (most recent call last):
    ...
    ConnectionError: cannot download the weights from http://127.0.0.1:9/w.pt ...
    """
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    reason = None
    for attempt in range(attempts):
        if attempt:
            time.sleep(delay)
        try:
            with socket.create_connection((parts.hostname, port), timeout=timeout):
                return
        except OSError as exc:
            reason = exc
            logger.info("cannot reach %s (%s)", url, exc)
    raise download_error(what, url, reason, offline)


def download_error(what, url, exc, offline):
    """Build the error of a failed download: what, from where, why, and instead.

    Parameters
    ----------
    what : str
        What was being fetched (``"the BCCD dataset"``).
    url : str
        Where from.
    exc : BaseException or None
        The cause (a ``urllib.error.URLError``'s reason is shown).
    offline : str
        What to do instead without internet.

    Returns
    -------
    error : ConnectionError
        The error to raise (``from exc``).

    Examples
    --------
    >>> from skcells.utils import download_error
    >>> error = download_error("the data", "http://x.test/d.zip", OSError("down"),
    ...                        "pass local_path=")
    >>> print(error)
    cannot download the data from http://x.test/d.zip (down; no internet?); ...
    """
    reason = getattr(exc, "reason", None) or exc
    return ConnectionError(
        f"cannot download {what} from {url} ({reason}; no internet?); "
        f"offline: {offline}."
    )

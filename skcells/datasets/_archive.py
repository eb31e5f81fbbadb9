"""Verified copies and safe extraction of the files a sha256 manifest lists.

``files`` maps relative POSIX names to ``{"sha256": ..., "size": ...}``.
Only those names are ever opened in a source; each is read (at most its
recorded size plus one byte) and checked against its size and digest
before it is written anywhere.
"""

import hashlib
import os
import re
import stat
import tarfile
import zipfile
import zlib
from pathlib import PurePosixPath

from ..utils import open_regular_file

__all__ = ["copy_verified", "extract_verified"]

_CHUNK = 1 << 20
# Longest symbolic-link target read from an archive (Linux's PATH_MAX).
_MAX_LINK = 4096


def copy_verified(src_root, dest_root, files):
    """Copy ``files`` from the folder ``src_root`` to ``dest_root``, verifying each.

    Every file is first checked to be a regular file inside ``src_root``
    (no symbolic link, device or FIFO, on the way or at the end) of the
    recorded size, all of them before anything is copied; each is then read
    and verified before it is written.

    Raises
    ------
    FileNotFoundError
        If a file is missing from ``src_root``.
    ValueError
        If a file is not a regular file inside ``src_root``, or has the
        wrong size or sha256.
    """
    for name, meta in files.items():
        with _open_source(src_root, name, meta) as f:
            size = os.fstat(f.fileno()).st_size
        if size != meta["size"]:
            raise ValueError(
                f"file {name} in {src_root} has {size} bytes, expected "
                f"{meta['size']}: the copy is corrupted or from another commit."
            )
    for name, meta in files.items():
        with _open_source(src_root, name, meta) as f:
            _write_verified(f, dest_root / name, name, meta, src_root)


def _open_source(src_root, name, meta):
    """Open ``src_root/name``, a regular file inside the folder, or explain why not."""
    try:
        return open_regular_file(name, root=src_root)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"file {name} is missing from the local copy {src_root}."
        ) from None
    except ValueError as exc:
        raise ValueError(
            f"file {name} of the local copy {src_root} cannot be used ({exc}): "
            "only regular files inside the copy are read (no symbolic links, "
            "devices or FIFOs); nothing was copied."
        ) from None


def extract_verified(archive, dest, files):
    """Safely extract ``files`` from a zip or tar archive into ``dest``.

    Every member is checked before anything is written: a name with ``..``,
    an absolute name, a link resolving outside the archive or a special file
    rejects the whole archive.  Only the regular files listed in ``files``
    are written, each verified against its size and sha256; other members
    are skipped.  A single top folder wrapping everything (as in GitHub
    archives) is stripped from the names.

    Raises
    ------
    ValueError
        If the archive is damaged or unsafe, lacks a listed file or a file
        does not match.
    """
    try:
        f = open_regular_file(archive)
    except ValueError as exc:
        raise ValueError(
            f"{archive} is not an archive ({exc}): expected the BCCD repository "
            "folder or its .zip/.tar.gz archive."
        ) from None
    try:
        with f:
            seen = _extract_members(archive, f, dest, files)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as exc:
        raise ValueError(f"archive {archive} is damaged or truncated: {exc}.") from exc
    missing = sorted(set(files) - seen)
    if missing:
        raise ValueError(
            f"archive {archive} lacks {len(missing)} of the {len(files)} expected "
            f"files, e.g. {missing[0]}."
        )


def _write_verified(src, dest, name, meta, origin):
    """Read ``src``, check its size and sha256, and only then write ``dest``.

    At most ``size + 1`` bytes are read, so an oversized member (e.g. a
    decompression bomb) is refused without being held or written; the
    manifest's sizes (a few hundred kB for BCCD) bound the memory.
    """
    blob = bytearray()
    remaining = meta["size"] + 1
    while remaining > 0 and (chunk := src.read(min(_CHUNK, remaining))):
        blob += chunk
        remaining -= len(chunk)
    if len(blob) != meta["size"]:
        raise ValueError(
            f"file {name} in {origin} has "
            f"{'more than ' if remaining == 0 else ''}{len(blob)} bytes, "
            f"expected {meta['size']}: the copy is corrupted or from another commit."
        )
    digest = hashlib.sha256(blob).hexdigest()
    if digest != meta["sha256"]:
        raise ValueError(
            f"file {name} in {origin} has sha256 {digest}, expected "
            f"{meta['sha256']}: the copy is corrupted or from another commit."
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "wb") as out:
        out.write(blob)


def _members(archive, f):
    """List ``(name, kind, link_target, opener)`` for a zip or tar archive.

    ``f`` is the archive, open.  ``kind`` is one of ``"file"``, ``"dir"``,
    ``"symlink"``, ``"hardlink"`` or ``"other"``; ``opener()`` returns a
    binary file object for files.  A zip stores a link's target as the
    member's data: at most 4096 bytes of it are read.  Returns the open
    archive (a context manager) and the list.
    """
    if zipfile.is_zipfile(f):
        f.seek(0)
        zf = zipfile.ZipFile(f)
        members = []
        for info in zf.infolist():
            mode = info.external_attr >> 16
            kind, link = "file", None
            if info.is_dir():
                kind = "dir"
            elif stat.S_ISLNK(mode):
                kind, link = "symlink", _zip_link(zf, info)
            elif stat.S_IFMT(mode) not in (0, stat.S_IFREG):
                kind = "other"
            members.append((info.filename, kind, link, lambda i=info: zf.open(i)))
        return zf, members
    f.seek(0)
    if tarfile.is_tarfile(f):
        f.seek(0)
        tf = tarfile.open(fileobj=f)
        members = []
        for info in tf.getmembers():
            kinds = ("file", "dir", "symlink", "hardlink")
            tests = (info.isfile(), info.isdir(), info.issym(), info.islnk())
            kind = next((k for k, t in zip(kinds, tests) if t), "other")
            link = info.linkname if kind in ("symlink", "hardlink") else None
            members.append((info.name, kind, link, lambda i=info: tf.extractfile(i)))
        return tf, members
    raise ValueError(f"{archive} is neither a zip nor a tar archive.")


def _zip_link(zf, info):
    """The target of a zip symlink member, or None when it is implausibly long."""
    if info.file_size > _MAX_LINK:
        return None
    with zf.open(info) as member:
        target = member.read(_MAX_LINK + 1)
    return None if len(target) > _MAX_LINK else target.decode("utf-8", "replace")


def _unsafe_reason(name, kind, link):
    """Return why an archive member could escape the target, or None."""
    reason = _unsafe_path(name)
    if reason:
        return f"its name {reason}"
    if kind == "other":
        return "it is neither a regular file, a folder nor a link"
    if kind in ("symlink", "hardlink"):
        if link is None:
            return f"it is a {kind} whose target is longer than {_MAX_LINK} bytes"
        if not link or _unsafe_path(link) not in (None, "contains '..'"):
            return f"it is a {kind} to {link!r}"
        # Symlinks resolve from the member's folder, hard links from the root.
        base = PurePosixPath(name).parent if kind == "symlink" else PurePosixPath()
        target = os.path.normpath((base / link).as_posix())
        if target == ".." or target.startswith("../"):
            return f"it is a {kind} to {link!r}, outside the archive"
    return None


def _unsafe_path(path):
    """Return why a member path is unsafe on any platform, or None."""
    if "\\" in path or "\x00" in path:
        return "contains a backslash or NUL"
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        return "is an absolute path"
    if ".." in PurePosixPath(path).parts:
        return "contains '..'"
    return None


def _extract_members(archive, f, dest, files):
    """Write the listed members (see :func:`extract_verified`); return their names."""
    handle, members = _members(archive, f)
    with handle:
        for name, kind, link, _ in members:
            reason = _unsafe_reason(name, kind, link)
            if reason:
                raise ValueError(
                    f"unsafe member {name!r} in archive {archive}: {reason}; "
                    "refusing to extract it."
                )
        names = [PurePosixPath(m[0]).parts for m in members]
        tops = {parts[0] for parts in names if parts}
        strip = len(tops) == 1 and all(
            len(parts) > 1 or m[1] == "dir" for parts, m in zip(names, members)
        )
        seen = set()
        for parts, (name, kind, _link, opener) in zip(names, members):
            rel = "/".join(parts[1:] if strip else parts)
            if rel not in files:
                continue
            if kind != "file":
                raise ValueError(
                    f"member {name!r} in archive {archive} is a {kind}, expected "
                    "a regular file."
                )
            if rel in seen:
                raise ValueError(f"member {name!r} occurs twice in archive {archive}.")
            seen.add(rel)
            with opener() as src:
                _write_verified(src, dest / rel, rel, files[rel], archive)
    return seen

"""Verified copies and safe extraction of the files a sha256 manifest lists.

``files`` maps relative POSIX names to ``{"sha256": ..., "size": ...}``; each
file is streamed into place while its size and digest are checked.
"""

import hashlib
import os
import re
import stat
import tarfile
import zipfile
import zlib
from pathlib import PurePosixPath

__all__ = ["copy_verified", "extract_verified"]

_CHUNK = 1 << 20


def copy_verified(src_root, dest_root, files):
    """Copy ``files`` from the folder ``src_root`` to ``dest_root``, verifying each.

    Raises
    ------
    FileNotFoundError
        If a file is missing from ``src_root``.
    ValueError
        If a file has the wrong size or sha256.
    """
    for name, meta in files.items():
        src = src_root / name
        if not src.is_file():
            raise FileNotFoundError(
                f"file {name} is missing from the local copy {src_root}."
            )
        with open(src, "rb") as f:
            _write_verified(f, dest_root / name, name, meta, src_root)


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
        seen = _extract_members(archive, dest, files)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as exc:
        raise ValueError(f"archive {archive} is damaged or truncated: {exc}.") from exc
    missing = sorted(set(files) - seen)
    if missing:
        raise ValueError(
            f"archive {archive} lacks {len(missing)} of the {len(files)} expected "
            f"files, e.g. {missing[0]}."
        )


def _write_verified(src, dest, name, meta, origin):
    """Stream ``src`` into ``dest`` while checking size and sha256.

    At most ``size + 1`` bytes are read, so an oversized member (e.g. a
    decompression bomb) is refused without being written out.
    """
    h = hashlib.sha256()
    remaining = meta["size"] + 1
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "wb") as out:
        while remaining > 0 and (chunk := src.read(min(_CHUNK, remaining))):
            h.update(chunk)
            out.write(chunk)
            remaining -= len(chunk)
    written = meta["size"] + 1 - remaining
    if written != meta["size"]:
        raise ValueError(
            f"file {name} in {origin} has "
            f"{'more than ' if remaining == 0 else ''}{written} bytes, "
            f"expected {meta['size']}: the copy is corrupted or from another commit."
        )
    if h.hexdigest() != meta["sha256"]:
        raise ValueError(
            f"file {name} in {origin} has sha256 {h.hexdigest()}, expected "
            f"{meta['sha256']}: the copy is corrupted or from another commit."
        )


def _members(archive):
    """List ``(name, kind, link_target, opener)`` for a zip or tar archive.

    ``kind`` is one of ``"file"``, ``"dir"``, ``"symlink"``, ``"hardlink"``
    or ``"other"``; ``opener()`` returns a binary file object for files.
    Returns the open archive (a context manager) and the list.
    """
    if zipfile.is_zipfile(archive):
        zf = zipfile.ZipFile(archive)
        members = []
        for info in zf.infolist():
            mode = info.external_attr >> 16
            kind, link = "file", None
            if info.is_dir():
                kind = "dir"
            elif stat.S_ISLNK(mode):
                kind, link = "symlink", zf.read(info).decode("utf-8", "replace")
            elif stat.S_IFMT(mode) not in (0, stat.S_IFREG):
                kind = "other"
            members.append((info.filename, kind, link, lambda i=info: zf.open(i)))
        return zf, members
    if tarfile.is_tarfile(archive):
        tf = tarfile.open(archive)
        members = []
        for info in tf.getmembers():
            kinds = ("file", "dir", "symlink", "hardlink")
            tests = (info.isfile(), info.isdir(), info.issym(), info.islnk())
            kind = next((k for k, t in zip(kinds, tests) if t), "other")
            link = info.linkname if kind in ("symlink", "hardlink") else None
            members.append((info.name, kind, link, lambda i=info: tf.extractfile(i)))
        return tf, members
    raise ValueError(f"{archive} is neither a zip nor a tar archive.")


def _unsafe_reason(name, kind, link):
    """Return why an archive member could escape the target, or None."""
    reason = _unsafe_path(name)
    if reason:
        return f"its name {reason}"
    if kind == "other":
        return "it is neither a regular file, a folder nor a link"
    if kind in ("symlink", "hardlink"):
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


def _extract_members(archive, dest, files):
    """Write the listed members (see :func:`extract_verified`); return their names."""
    handle, members = _members(archive)
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

"""Shared ground floor: parameter checks and crash-safe caches.

Every other skcells package may import from here; this package imports no
other skcells package.
"""

from ._cache import (
    atomic_directory,
    atomic_file,
    cache_lock,
    params_hash,
    sha256_file,
    verify_manifest,
    write_manifest,
)
from ._validation import (
    check_array_1d,
    check_bool,
    check_int,
    check_n_jobs,
    check_option,
    check_range,
    check_real,
    check_vector,
)

__all__ = [
    "atomic_directory",
    "atomic_file",
    "cache_lock",
    "check_array_1d",
    "check_bool",
    "check_int",
    "check_n_jobs",
    "check_option",
    "check_range",
    "check_real",
    "check_vector",
    "params_hash",
    "sha256_file",
    "verify_manifest",
    "write_manifest",
]

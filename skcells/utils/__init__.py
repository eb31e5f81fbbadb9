"""Shared ground floor: parameter checks and crash-safe caches.

Every other skcells package may import from here; this package imports no
other skcells package.
"""

from ._cache import (
    atomic_directory,
    atomic_file,
    cache_lock,
    check_free_space,
    load_npy,
    open_regular_file,
    params_hash,
    sha256_file,
    verify_manifest,
    write_manifest,
)
from ._network import check_reachable, download_error, network_timeout
from ._validation import (
    cap_n_jobs,
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
    "cap_n_jobs",
    "check_array_1d",
    "check_bool",
    "check_free_space",
    "check_int",
    "check_n_jobs",
    "check_option",
    "check_reachable",
    "check_range",
    "check_real",
    "check_vector",
    "download_error",
    "load_npy",
    "network_timeout",
    "open_regular_file",
    "params_hash",
    "sha256_file",
    "verify_manifest",
    "write_manifest",
]

"""Content-keyed random streams: the uniforms that place every view.

The uniforms of a sample are a pure function of ``(salt, sample values, view
index)``: a 64-bit key hashed from the sample's values is mixed with the
salt of the call and a counter (SplitMix64).  The views of a sample are
therefore independent of the other samples of the batch and of their order,
so ``predict(X[:k])`` equals ``predict(X)[:k]`` and chunking never changes a
result.
"""

import math
from functools import lru_cache

import numpy as np
from sklearn.utils import check_random_state

# At most this many 8-byte words of a sample enter its content key.
_HASH_WORDS = 4096
# Bytes of input hashed per chunk of samples.
_HASH_CHUNK_BYTES = 1 << 24
# Tag of the training stream, which separates the training views from the
# prediction views of the same random_state.
_TRAIN_STREAM = 0x7261696E5F766965


def _splitmix64(z):
    """SplitMix64 finaliser on a uint64 array (wrap-around arithmetic)."""
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@lru_cache(maxsize=32)
def _hash_multipliers(n_words):
    rng = np.random.Generator(np.random.PCG64(0x5C3E11))
    mult = rng.integers(0, np.iinfo(np.uint64).max, size=n_words, dtype=np.uint64)
    mult |= np.uint64(1)
    mult.setflags(write=False)
    return mult


def _row_keys(X):
    """A 64-bit content key per sample (vectorised multilinear hash).

    Samples with more than ``_HASH_WORDS`` words are keyed on evenly spaced
    words; two samples that agree there share their views, which is harmless
    (the views are still cut from each sample's own values).
    """
    n = X.shape[0]
    row_bytes = int(X.itemsize * math.prod(X.shape[1:]))
    keys = np.empty(n, dtype=np.uint64)
    if n == 0:
        return keys
    n_words_row = -(-row_bytes // 8)
    if n_words_row <= _HASH_WORDS:
        byte_idx = None
        n_words = n_words_row
    else:
        words = np.linspace(0, n_words_row - 1, _HASH_WORDS).astype(np.intp)
        byte_idx = (words[:, None] * 8 + np.arange(8)).ravel()
        byte_idx = byte_idx[byte_idx < row_bytes]
        n_words = _HASH_WORDS
    mult = _hash_multipliers(n_words)
    step = max(1, _HASH_CHUNK_BYTES // max(row_bytes, 1))
    with np.errstate(over="ignore"):
        for start in range(0, n, step):
            chunk = np.ascontiguousarray(X[start : start + step])
            raw = chunk.reshape(chunk.shape[0], -1).view(np.uint8)
            if byte_idx is not None:
                raw = raw[:, byte_idx]
            pad = n_words * 8 - raw.shape[1]
            if pad:
                raw = np.concatenate(
                    [raw, np.zeros((raw.shape[0], pad), dtype=np.uint8)], axis=1
                )
            words_ = np.ascontiguousarray(raw).view(np.uint64)
            h = (words_ * mult).sum(axis=1, dtype=np.uint64)
            keys[start : start + step] = _splitmix64(h + np.uint64(row_bytes))
    return keys


def _draw_salt(random_state, *, training=False):
    """The 64-bit salt of one call (of the training stream if ``training``)."""
    rs = check_random_state(random_state)
    salt = int(rs.randint(0, np.iinfo(np.int64).max, dtype=np.int64))
    return salt ^ _TRAIN_STREAM if training else salt


def _component_salt(salt, position):
    """The salt of the component at ``position`` of a composition of views.

    Position 0 keeps ``salt``, so the first component of a composition draws
    exactly the views it draws alone; later positions get independent streams.
    """
    if position == 0:
        return salt
    with np.errstate(over="ignore"):
        mixed = _splitmix64(np.uint64(salt % (1 << 64)) ^ np.uint64(position))
    return int(mixed)


def _uniforms_at(keys, salt, view_index, n_draws):
    """Uniforms in [0, 1) of shape (k, n_draws) for k views.

    ``keys`` holds the content key of the sample of every view (from
    :func:`_row_keys`) and ``view_index`` its view index: the uniforms of a
    view depend on nothing else, so any subset of the views of any batch can
    be drawn on its own (the geometry of a chunk is computed with the chunk).
    """
    view_index = np.asarray(view_index, dtype=np.uint64)
    with np.errstate(over="ignore"):
        base = _splitmix64(
            np.asarray(keys, dtype=np.uint64) ^ np.uint64(salt % (1 << 64))
        )
        counter = view_index[:, None] * np.uint64(n_draws) + np.arange(
            1, n_draws + 1, dtype=np.uint64
        )
        counter = counter * np.uint64(0x9E3779B97F4A7C15)
        z = _splitmix64(base[:, None] + counter)
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def _uniforms(X, salt, n_views, n_draws):
    """Uniforms in [0, 1) of shape (n_samples, n_views, n_draws), keyed on X."""
    n = X.shape[0]
    keys = np.repeat(_row_keys(X), n_views)
    view_index = np.tile(np.arange(n_views), n)
    return _uniforms_at(keys, salt, view_index, n_draws).reshape(n, n_views, n_draws)

"""Word shingles and MinHash: how the audits tell that two texts say the same thing up to light edits.

A text is normalised before it is cut into shingles - Unicode compatibility forms folded (NFKC),
case folded, punctuation dropped, whitespace collapsed - so that those edits change nothing; a
changed word changes only the `k` shingles that hold it. Shingles are hashed to 64-bit integers
with two C checksums (crc32 and adler32) rather than Python's `hash()`, which is salted per
process: an audit must find the same things on every run, and MinHash's permutations are seeded
for the same reason.

Two measures, each exact on the shingle sets:
- `containment(a, b)`: the share of `a`'s shingles found in `b` - how much of a case's text appears
  in a (much longer) prompt. Jaccard would shrink with the prompt's length; containment does not.
- `jaccard(a, b)`: how alike two texts of similar length are (duplicates, coverage).

MinHash (datasketch) only finds candidates fast - `LSHEnsemble` for containment, `MinHashLSH`
for Jaccard - each queried a little below the threshold asked for, and every candidate is then
confirmed on the exact sets, so a verdict never rests on an estimate.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
from datasketch import LeanMinHash, MinHash

__all__ = [
    "LEAKAGE_K",
    "NUM_PERM",
    "SIMILAR_K",
    "Shingled",
    "containment",
    "jaccard",
    "minhash",
    "minhashes",
    "shingle_set",
    "shingles_at",
    "strings_in",
    "words",
]

NUM_PERM = 128
LEAKAGE_K = 3  # word triples: a prompt holds most single words and pairs of any text, few of its triples
SIMILAR_K = 1  # single words: two phrasings of one question share most words, in any order
_SHORT = 3  # words: a string shorter than this is an id or a flag beside real text
_WORD = re.compile(r"\w+")
_SCHEME = "affine32"
_A, _B = (np.asarray(p, dtype=np.uint32) for p in MinHash(num_perm=NUM_PERM, seed=1, scheme=_SCHEME).permutations)
_LOW32 = np.uint64(0xFFFFFFFF)
_EMPTY = np.uint32(0xFFFFFFFF)  # datasketch's value for a set with nothing in it
_CHUNK = 4_000  # shingles a numpy batch: x NUM_PERM x 4 bytes = 2 MB, which stays in the CPU cache


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def words(text: str) -> list[str]:
    """The words of `text`, normalised: case folded, punctuation and whitespace gone."""
    return _WORD.findall(_normal(text))


def _hash(shingle: str) -> int:
    data = shingle.encode()
    return (zlib.adler32(data) << 32) | zlib.crc32(data)


def shingle_set(text: str, k: int = LEAKAGE_K) -> set[int]:
    """The hashed `k`-word shingles of `text`; a text shorter than `k` words is one shingle."""
    found = words(text)
    if len(found) <= k:
        return {_hash(" ".join(found))} if found else set()
    return {_hash(" ".join(found[i : i + k])) for i in range(len(found) - k + 1)}


def shingles_at(text: str, k: int = LEAKAGE_K) -> Iterator[tuple[int, int]]:
    """(shingle hash, offset in `text` of its first word) for every shingle, in order; used to say
    where in a file a case appears."""
    normal = _normal(text)
    # NFKC may change lengths; offsets are then approximate, which a line number survives.
    matches = list(_WORD.finditer(normal))
    if 0 < len(matches) <= k:
        yield _hash(" ".join(m.group() for m in matches)), matches[0].start()
        return
    for i in range(len(matches) - k + 1):
        yield _hash(" ".join(m.group() for m in matches[i : i + k])), matches[i].start()


def containment(part: set[int], whole: set[int]) -> float:
    """The share of `part`'s shingles that `whole` holds (0 for an empty `part`)."""
    return len(part & whole) / len(part) if part else 0.0


def jaccard(a: set[int], b: set[int]) -> float:
    shared = len(a & b)  # the union's size from the sizes: no second set is built
    union = len(a) + len(b) - shared
    return shared / union if union else 0.0


def minhash(shingles: Iterable[int]) -> LeanMinHash:
    """The MinHash signature of a shingle set (see `minhashes`)."""
    return minhashes([shingles])[0]


def minhashes(sets: Sequence[Iterable[int]]) -> list[LeanMinHash]:
    """The MinHash signatures of many shingle sets, computed together.

    The values are those of datasketch's `MinHash(scheme="affine32", seed=1)` fed the shingles'
    low 32 bits (a test holds this): its MurmurHash3 pre-mix and affine permutations, applied here
    to a whole batch at once with numpy, since datasketch's per-set `update_batch` costs about a
    hundred times the arithmetic on a sentence's dozen shingles - too slow for a week of traffic."""
    arrays = [np.fromiter(s, dtype=np.uint64) for s in sets]
    lengths = np.array([len(x) for x in arrays], dtype=np.int64)
    out = np.full((len(arrays), NUM_PERM), _EMPTY, dtype=np.uint32)
    filled = np.flatnonzero(lengths)
    start = 0
    while start < len(filled):  # chunks of about _CHUNK shingles, so memory stays bounded
        stop, total = start, 0
        while stop < len(filled) and (total == 0 or total + lengths[filled[stop]] <= _CHUNK):
            total += int(lengths[filled[stop]])
            stop += 1
        rows = filled[start:stop]
        values = _fmix32((np.concatenate([arrays[i] for i in rows]) & _LOW32).astype(np.uint32))
        permuted = np.multiply.outer(values, _A)  # wraps modulo 2^32, as the scheme means
        permuted += _B
        offsets = np.concatenate(([0], np.cumsum(lengths[rows])[:-1]))
        out[rows] = np.minimum.reduceat(permuted, offsets, axis=0)
        start = stop
    return [LeanMinHash(seed=1, hashvalues=row, scheme=_SCHEME) for row in out]


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, as datasketch pre-mixes a hash before permuting it."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    mixed: np.ndarray = h ^ (h >> np.uint32(16))
    return mixed


class Shingled:
    """A case's (or a trace's) text as the audits compare it: the shingle set of every string in a
    value (arguments, an expected output), with strings shorter than `k` words left out when the
    value has longer ones (and, whatever `k`, strings of one or two words: an id, a flag, a
    language code), which would otherwise dilute a long question's match."""

    def __init__(self, value: Any, k: int) -> None:
        texts = [t for t in strings_in(value) if t.strip()]
        long = [t for t in texts if len(words(t)) >= max(k, _SHORT)]
        self.shingles: set[int] = set()
        for text in long or texts:
            self.shingles |= shingle_set(text, k)
        self.text = " | ".join(long or texts)
        self.signature: LeanMinHash | None = None  # its MinHash, once a caller computed it

    def __len__(self) -> int:
        return len(self.shingles)


_NOT_TEXT = frozenset({"type", "role", "id", "name", "finish_reason", "mime_type"})


def strings_in(value: Any) -> list[str]:
    """Every string in a JSON-like value, in order: object values (but not the keys that name a
    message part's type, role or id), list items, or the value itself."""
    out: list[str] = []
    _collect(value, out)
    return out


def _collect(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in _NOT_TEXT:
                _collect(item, out)
    elif isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        for item in value:
            _collect(item, out)

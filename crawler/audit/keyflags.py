"""A compact table of 64-bit key hashes, each with a byte of flags: the audit's per-function memory.

Some facts of the summary are about functions anywhere in the input and are only judged once it is
over (``crawler.audit.crossref``: which functions exist, which have a LATEST failure destination, which
versions and aliases have a config; ``crawler.audit.fold``: which functions have a finding, counted once
each however many records the input holds of them). A Python ``set`` of hashes costs 60-90 bytes per
key (a 32-byte int object and a 16-byte slot, at most 3/5 full); here a key is one slot of an
``array('q')`` and a byte of a ``bytearray`` beside it: 9 bytes per slot, the table at most 2/3 full,
so 13.5-27 bytes per key, and no object per key for the garbage collector to walk.

Open addressing with linear probing. A key is never removed (clearing its flags keeps its slot), so no
tombstones are needed. Slot value 0 means empty: a key whose hash is 0 is stored as 1 (two keys of a
million sharing a 64-bit hash are as unlikely as before: the callers already trust the hash alone).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from typing import Final

_MIN_SLOTS: Final = 64


class KeyFlags:
    """Key hash → flags (a byte); ``update`` sets and clears, ``get`` reads (0 for an unknown key)."""

    __slots__ = ("_flags", "_keys", "_limit", "_mask", "_used")

    def __init__(self, slots: int = _MIN_SLOTS) -> None:
        size = _MIN_SLOTS
        while size < slots:
            size *= 2
        self._keys = array("q", bytes(8 * size))
        self._flags = bytearray(size)
        self._mask = size - 1
        self._used = 0
        self._limit = size * 2 // 3

    def __len__(self) -> int:
        """The keys ever set (clearing a key's flags keeps it)."""
        return self._used

    @property
    def nbytes(self) -> int:
        """The table's own memory: 9 bytes per slot."""
        return len(self._keys) * 9

    def get(self, key_hash: int) -> int:
        h = key_hash or 1
        keys, mask = self._keys, self._mask
        i = h & mask
        k = keys[i]
        while k != h:
            if not k:
                return 0
            i = (i + 1) & mask
            k = keys[i]
        return self._flags[i]

    def update(self, key_hash: int, set_bits: int = 0, clear_bits: int = 0) -> int:
        """Set ``set_bits`` and then clear ``clear_bits`` of a key's flags, adding the key if it is new;
        returns its flags before."""
        h = key_hash or 1
        keys, mask = self._keys, self._mask
        i = h & mask
        k = keys[i]
        while k != h:
            if not k:  # a new key: its empty slot
                keys[i] = h
                self._flags[i] = set_bits & ~clear_bits
                self._used += 1
                if self._used > self._limit:
                    self._grow()
                return 0
            i = (i + 1) & mask
            k = keys[i]
        old = self._flags[i]
        self._flags[i] = (old | set_bits) & ~clear_bits
        return old

    def set_all(self, key_hashes: list[int], bits: int) -> None:
        """``update(h, bits)`` for each hash (one call for a function's version and alias keys)."""
        for key_hash in key_hashes:
            self.update(key_hash, bits)

    def _grow(self) -> None:
        old_keys, old_flags = self._keys, self._flags
        size = len(old_keys) * 2
        keys = array("q", bytes(8 * size))
        flags = bytearray(size)
        mask = size - 1
        for h, f in zip(old_keys, old_flags, strict=True):
            if h:
                i = h & mask
                while keys[i]:
                    i = (i + 1) & mask
                keys[i] = h
                flags[i] = f
        self._keys, self._flags, self._mask, self._limit = keys, flags, mask, size * 2 // 3

    def hashes(self, bits: int) -> Iterator[int]:
        """The hashes of the keys with any of ``bits`` set (a scan of the whole table)."""
        flags = self._flags
        for i, h in enumerate(self._keys):
            if h and flags[i] & bits:
                yield h

    def copy(self) -> KeyFlags:
        """An independent twin (two buffer copies)."""
        twin = KeyFlags.__new__(KeyFlags)
        twin._keys, twin._flags = self._keys[:], self._flags[:]
        twin._mask, twin._used, twin._limit = self._mask, self._used, self._limit
        return twin

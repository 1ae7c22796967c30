"""``KeyFlags``, the audit's compact per-function table, pinned directly: probing past collisions, growth
that keeps every key and its flags, set-then-clear order, the hash 0 stored as 1, ``hashes`` filtering by
any of the bits, and a copy that shares nothing."""

from __future__ import annotations

import random

from crawler.audit.keyflags import KeyFlags


def test_an_unknown_key_reads_as_no_flags_and_is_not_added() -> None:
    table = KeyFlags()
    assert table.get(12345) == 0
    assert len(table) == 0


def test_update_returns_the_flags_before_and_sets_then_clears() -> None:
    table = KeyFlags()
    assert table.update(7, set_bits=0b101) == 0
    assert table.get(7) == 0b101
    assert len(table) == 1
    assert table.update(7, set_bits=0b010, clear_bits=0b001) == 0b101
    assert table.get(7) == 0b110
    # set and clear the same bit: the clear wins, for a new key and for a known one
    assert table.update(9, set_bits=0b11, clear_bits=0b01) == 0
    assert table.get(9) == 0b10
    assert table.update(9, set_bits=0b01, clear_bits=0b01) == 0b10
    assert table.get(9) == 0b10
    # clearing every flag keeps the key
    table.update(7, clear_bits=0xFF)
    assert table.get(7) == 0
    assert len(table) == 2


def test_keys_that_share_a_slot_are_told_apart() -> None:
    table = KeyFlags()  # 64 slots: keys equal modulo 64 start at the same slot
    keys = [5, 5 + 64, 5 + 128, -(2**40) * 64 + 5]
    for bit, key in enumerate(keys):
        table.update(key, set_bits=1 << bit)
    assert [table.get(k) for k in keys] == [1, 2, 4, 8]
    assert table.get(5 + 192) == 0
    assert len(table) == 4


def test_the_hash_zero_is_stored_as_one() -> None:
    table = KeyFlags()
    table.update(0, set_bits=4)
    assert table.get(0) == 4
    assert table.get(1) == 4  # the same slot value: documented, the callers trust the hash alone
    assert list(table.hashes(4)) == [1]
    assert len(table) == 1


def test_the_table_grows_past_two_thirds_and_keeps_every_key() -> None:
    table = KeyFlags()
    assert table.nbytes == 64 * 9
    rng = random.Random(18)
    keys = rng.sample(range(1, 2**62), 43)  # 64 * 2 // 3 = 42: the 43rd key grows the table
    for i, key in enumerate(keys[:42]):
        table.update(key, set_bits=1 + i % 3)
    assert table.nbytes == 64 * 9
    table.update(keys[42], set_bits=1 + 42 % 3)
    assert table.nbytes == 128 * 9
    assert len(table) == 43
    assert [table.get(k) for k in keys] == [1 + i % 3 for i in range(43)]


def test_a_presized_table_rounds_up_to_a_power_of_two() -> None:
    assert KeyFlags(100).nbytes == 128 * 9
    assert KeyFlags(128).nbytes == 128 * 9
    assert KeyFlags(1).nbytes == 64 * 9


def test_set_all_adds_new_keys_and_ors_into_known_ones() -> None:
    table = KeyFlags()
    table.update(3, set_bits=0b01)
    table.set_all([3, 3 + 64, 0], 0b10)
    assert table.get(3) == 0b11
    assert table.get(3 + 64) == 0b10
    assert table.get(0) == 0b10
    assert len(table) == 3
    rng = random.Random(7)
    many = rng.sample(range(1, 2**62), 200)
    table.set_all(many, 0b100)
    assert len(table) == 203
    assert all(table.get(k) == 0b100 for k in many)
    assert table.nbytes == 512 * 9  # 203 keys > 2/3 of 256


def test_hashes_yields_the_keys_with_any_of_the_bits() -> None:
    table = KeyFlags()
    table.update(10, set_bits=0b001)
    table.update(11, set_bits=0b010)
    table.update(12, set_bits=0b011)
    table.update(13, set_bits=0b100)
    assert sorted(table.hashes(0b001)) == [10, 12]
    assert sorted(table.hashes(0b011)) == [10, 11, 12]
    assert sorted(table.hashes(0b1000)) == []


def test_a_copy_shares_nothing_with_its_original() -> None:
    table = KeyFlags()
    table.update(21, set_bits=1)
    twin = table.copy()
    twin.update(21, set_bits=2)
    twin.update(22, set_bits=1)
    for k in range(100, 200):  # grow the twin only
        twin.update(k, set_bits=1)
    assert table.get(21) == 1
    assert table.get(22) == 0
    assert len(table) == 1
    assert table.nbytes == 64 * 9
    assert twin.get(21) == 3
    assert len(twin) == 102
    # and growing the original after copying leaves the twin as it was
    table.update(23, set_bits=4)
    assert twin.get(23) == 0


def test_update_with_no_bits_adds_the_key_with_no_flags() -> None:
    table = KeyFlags()
    assert table.update(31) == 0
    assert len(table) == 1
    assert table.get(31) == 0
    table.update(31, set_bits=0b10)
    assert table.update(31, clear_bits=0b10) == 0b10
    assert table.get(31) == 0  # clearing sets nothing of its own


def test_the_grown_table_grows_again_at_two_thirds_of_its_new_size() -> None:
    table = KeyFlags()
    rng = random.Random(19)
    keys = rng.sample(range(1, 2**62), 86)
    for key in keys[:85]:  # 128 * 2 // 3 = 85
        table.update(key, set_bits=1)
    assert table.nbytes == 128 * 9
    table.update(keys[85], set_bits=1)
    assert table.nbytes == 256 * 9
    assert all(table.get(k) == 1 for k in keys)


def test_set_all_grows_only_past_two_thirds() -> None:
    table = KeyFlags()
    rng = random.Random(20)
    keys = rng.sample(range(1, 2**62), 43)
    table.set_all(keys[:42], 1)
    assert table.nbytes == 64 * 9
    table.set_all(keys[42:], 1)
    assert table.nbytes == 128 * 9

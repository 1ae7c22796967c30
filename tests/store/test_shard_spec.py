"""``--shard K/N`` as a value: the bounds it accepts, the words it refuses with, the run-record shape it
reads back, and that two shards never both own a service. (Which shard owns which service — the hash — is
pinned in the merge and shard-assignment tests.)"""

from __future__ import annotations

import pytest

from crawler.errors import UsageError
from crawler.store.shard import ShardSpec


def test_one_shard_and_a_hundred_thousand_are_the_bounds() -> None:
    assert ShardSpec(0, 1).label == "0/1"
    assert ShardSpec(99_999, 100_000).label == "99999/100000"
    with pytest.raises(UsageError, match=r"^--shard 0/0: N must be between 1 and 100000$"):
        ShardSpec(0, 0)
    with pytest.raises(UsageError, match=r"^--shard 0/100001: N must be between 1 and 100000$"):
        ShardSpec(0, 100_001)


def test_an_index_out_of_range_names_the_last_valid_index() -> None:
    with pytest.raises(UsageError) as caught:
        ShardSpec(4, 4)
    assert str(caught.value) == (
        "--shard 4/4: K must be 0..3 (shards are numbered from 0, "
        "as a Kubernetes Indexed Job numbers its pods)"
    )
    with pytest.raises(UsageError, match=r"K must be 0\.\.3 "):
        ShardSpec(-1, 4)


def test_parse_names_the_flag_unless_told_another_name() -> None:
    with pytest.raises(UsageError) as caught:
        ShardSpec.parse("3of4")
    assert str(caught.value) == "--shard '3of4' must be K/N, like 0/4 (shard K of N, K counted from 0)"
    with pytest.raises(UsageError, match=r"^JOB_SHARD '3of4' must be K/N"):
        ShardSpec.parse("3of4", where="JOB_SHARD")


def test_two_shards_never_both_own_a_service() -> None:
    first, second = ShardSpec(0, 2), ShardSpec(1, 2)
    services = [f"svc-{i}" for i in range(20)]
    owners = [(first.owns("1", "cn-hangzhou", s), second.owns("1", "cn-hangzhou", s)) for s in services]
    assert all(a != b for a, b in owners)  # exactly one of the two, for every service
    assert any(a for a, _ in owners)
    assert any(b for _, b in owners)
    assert all(ShardSpec(0, 1).owns("1", "cn-hangzhou", s) for s in services)


@pytest.mark.parametrize(
    "value",
    [
        None,
        [0, 4],
        {"index": "0", "count": 4},  # a string index
        {"index": 0, "count": "4"},  # a string count
        {"index": 0.0, "count": 4},  # a float is not an int here
        {"index": True, "count": 4},  # nor is a bool
        {"index": 4, "count": 4},  # index == count
        {"index": 5, "count": 4},
        {"index": -1, "count": 4},
        {"count": 4},
    ],
)
def test_a_run_records_shard_of_another_shape_reads_as_none(value: object) -> None:
    assert ShardSpec.from_dict(value) is None


def test_a_run_records_shard_reads_back() -> None:
    assert ShardSpec.from_dict({"index": 3, "count": 4}) == ShardSpec(3, 4)
    assert ShardSpec.from_dict(ShardSpec(0, 1).as_dict()) == ShardSpec(0, 1)
    assert ShardSpec(2, 5).as_dict() == {"index": 2, "count": 5}

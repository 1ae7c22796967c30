"""The emulator's quota shapes: a fixed one-second window counter, a quota that changes mid-crawl, arrival
jitter before the quota, and the flags that offer them (issue 17's end-to-end shapes)."""

from __future__ import annotations

import pytest

from crawler.app.emulator_command import fault_config
from crawler.cli.main import build_parser
from crawler.emulator.faults import FaultConfig, FaultInjector, Quota, WindowCounter, parse_quota_change
from crawler.errors import UsageError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_window_counter_admits_the_quota_per_whole_second_and_says_when_the_next_opens() -> None:
    clock = Clock()
    window = WindowCounter(3.7, clock)  # three a window: a fraction of a request is not admitted
    clock.now = 0.9
    assert [window.take() for _ in range(3)] == [None, None, None]
    assert window.take() == pytest.approx(0.1)
    clock.now = 1.0  # a new window: three more at once, six within 0.1 s across the boundary
    assert [window.take() for _ in range(4)] == [None, None, None, pytest.approx(1.0)]


def test_a_minute_window_admits_a_minutes_quota_and_says_when_the_minute_ends() -> None:
    clock = Clock()
    window = WindowCounter(10.5, clock, seconds=60.0)  # N calls a minute: 630
    clock.now = 1.0
    assert all(window.take() is None for _ in range(630))
    assert window.take() == pytest.approx(59.0)  # refused to the minute's end
    clock.now = 59.75
    assert window.take() == pytest.approx(0.25)
    clock.now = 60.0
    assert window.take() is None
    window.set_rate(1.0)  # a change keeps the window: 60 a minute
    assert sum(window.take() is None for _ in range(100)) == 59


def test_a_quota_halves_then_doubles_counted_from_its_first_request() -> None:
    clock = Clock()
    clock.now = 50.0  # the emulator was up long before the crawl: the schedule starts at the first take
    quota = Quota(10.0, 1, "bucket", ((2.0, 0.5), (4.0, 1.0)), clock)

    def admitted(start: float, seconds: float, every: float) -> int:
        count, t = 0, start
        while t < start + seconds - 1e-9:
            clock.now = t
            count += quota.take() is None
            t += every
        return count

    assert admitted(50.0, 2.0, 0.001) == pytest.approx(20, abs=1)  # 10/s
    assert admitted(52.0, 2.0, 0.001) == pytest.approx(10, abs=1)  # halved: 5/s
    assert admitted(54.0, 2.0, 0.001) == pytest.approx(20, abs=1)  # back to 10/s


def test_a_window_quota_follows_its_changes_too() -> None:
    clock = Clock()
    quota = Quota(4.0, 4, "window", ((1.0, 0.5),), clock)
    assert [quota.take() is None for _ in range(5)] == [True] * 4 + [False]
    clock.now = 1.0
    assert [quota.take() is None for _ in range(3)] == [True, True, False]


def test_arrival_jitter_is_a_seeded_delay_before_the_quota() -> None:
    config = FaultConfig(seed=3, arrival_jitter_ms=10.0)
    delays = [FaultInjector(config).arrival_delay() for _ in range(2)]
    assert delays[0] == delays[1]
    many = [FaultInjector(FaultConfig(seed=s, arrival_jitter_ms=10.0)).arrival_delay() for s in range(50)]
    assert all(0.0 <= d <= 0.01 for d in many)
    assert len(set(many)) == 50
    assert FaultInjector(FaultConfig()).arrival_delay() == 0.0


def test_the_flags_build_the_shapes() -> None:
    flags = ["--quota", "100", "--quota-shape", "window", "--quota-change", "10=0.5"]
    args = build_parser().parse_args(
        ["emulator", *flags, "--quota-change", "20=1", "--arrival-jitter-ms", "5"]
    )
    config = fault_config(args)
    assert (config.quota_shape, config.quota_changes, config.arrival_jitter_ms) == (
        "window",
        ((10.0, 0.5), (20.0, 1.0)),
        5.0,
    )
    assert config.quota_window == 1.0
    minute = fault_config(build_parser().parse_args(["emulator", *flags, "--quota-window", "60"]))
    assert minute.quota_window == 60.0
    quota = Quota.of(minute)
    assert quota is not None
    assert sum(quota.take() is None for _ in range(7000)) == 6000  # 100/s a minute


@pytest.mark.parametrize("spec", ["10", "x=1", "10=0", "-1=2", "10=nan", "inf=1"])
def test_a_bad_quota_change_is_one_line_naming_the_form(spec: str) -> None:
    with pytest.raises(UsageError, match="SECONDS=FACTOR"):
        parse_quota_change(spec)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"quota_shape": "leaky"},
        {"quota_changes": ((1.0, 0.0),)},
        {"arrival_jitter_ms": -1.0},
        {"quota_window": 0.0},
    ],
)
def test_bad_shapes_are_usage_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        FaultConfig(**kwargs)  # type: ignore[arg-type]

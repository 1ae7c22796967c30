"""``bench.instructions``: reading callgrind's count, the slope between two account sizes, the table, and
the refusals before any run (valgrind itself is not run here: minutes a crawl)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench import instructions
from bench.instructions import Count, collected, per_function, render

CALLGRIND_END = """==4242== Events    : Ir
==4242== Collected : 3083831513
==4242==
==4242== I   refs:      3,083,831,513
"""


def test_the_count_is_callgrinds_collected_line() -> None:
    assert collected("noise\n" + CALLGRIND_END) == 3_083_831_513


def test_a_run_without_a_count_is_an_error_naming_the_end_of_its_output() -> None:
    with pytest.raises(ValueError, match=r"no instruction count.*valgrind: bad option"):
        collected("valgrind: bad option --tool=callgrnd\n")


def test_per_function_is_the_slope_between_the_sizes_whatever_their_order() -> None:
    tree = Path("/x")
    counts = [Count(tree, 5000, 6_929_998_621), Count(tree, 1000, 3_084_951_153)]
    # (6,929,998,621 - 3,084,951,153) / 4,000
    assert per_function(counts) == pytest.approx(961_261.867)


def test_one_size_has_no_slope() -> None:
    tree = Path("/x")
    with pytest.raises(ValueError, match="two account sizes"):
        per_function([Count(tree, 1000, 5), Count(tree, 1000, 7)])


def test_the_table_sets_each_tree_against_the_first() -> None:
    table = render({Path("/new"): [932_000.0, 934_000.0], Path("/old"): [796_500.0, 795_000.0]})
    rows = table.splitlines()
    assert rows[2] == "| /new | 932.0 k / 934.0 k | 933.0 k | 1.000 |"
    assert rows[3] == "| /old | 796.5 k / 795.0 k | 795.8 k | 0.853 |"


def test_a_directory_that_is_no_checkout_is_refused_before_any_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/valgrind")
    assert instructions.main(["--against", str(tmp_path)]) == 2
    assert capsys.readouterr().out.strip() == (
        f"bench.instructions: {tmp_path} holds no crawler package; name an fcaudit checkout"
    )


def test_without_valgrind_it_says_so(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert instructions.main([]) == 2
    assert "valgrind is not installed" in capsys.readouterr().out

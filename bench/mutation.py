"""Mutation run over the core modules with mutmut 3 — run by hand like the benches, never in CI.

Needs the ``mutation`` extra (``pip install -e '.[test,mutation]'``)::

    python -m bench.mutation                    # every module in MODULES (slow: an hour or more)
    python -m bench.mutation wire.pager store.shard        # just these modules
    python -m bench.mutation --list             # the modules and the tests each one runs
    python -m bench.mutation --classify-only    # the last run's report again, after editing the equivalents

Each module is mutated on its own, in a fresh copy of ``crawler/`` and ``tests/`` under ``.mutation/``
(the working tree is never touched), and only that module's own tests (``MODULES``) run against its
mutants, so one module costs minutes, not the whole suite per mutant. mutmut runs under ``nice -n 19``
with one worker: the machine is shared.

The report (Markdown, ``.mutation/report.md`` unless ``--report``) gives per module the mutants killed,
timed out, survived and explained as equivalent, the score — (killed + timeout) / (mutants − equivalent)
— and every survivor as a diff. A survivor is "equivalent" only if ``bench/mutation-equivalents.md``
has a ``## <mutant name>`` section that quotes the mutated line and says why no test can tell it from
the original; a listed mutant whose line no longer matches (the code moved) is reported as stale and
counts as a survivor. Mutants whose function no selected test calls ("no tests") count as survivors too.
A mutant whose forked test run died of a signal is run again in a fresh process and counts as killed
only if a test fails there ("crashed after a failing test").
The exit code is 0 whatever the score: this is a measurement, not a gate.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EQUIVALENTS = REPO / "bench" / "mutation-equivalents.md"

# module -> the test files whose tests exercise it in-process (tests that reach the module only through a
# child process, e.g. ``fcaudit`` started with subprocess, cannot see mutmut's mutants and are left out).
MODULES: dict[str, tuple[str, ...]] = {
    "wire.signing": (
        "tests/wire/test_signing.py",
        "tests/wire/test_signing_pins.py",
        "tests/wire/test_signing_acs3.py",
        "tests/wire/test_signing_hot_path.py",
        "tests/wire/test_client.py",
        "tests/wire/test_signing_acs3_headers_pins.py",
    ),
    "wire.transport": (
        "tests/wire/test_client.py",
        "tests/wire/test_fc2_client_pins.py",
        "tests/wire/test_fc3.py",
        "tests/wire/test_signing_hot_path.py",
        "tests/wire/test_transport_boundary.py",
        "tests/e2e/test_e2e_deadlines.py",
        "tests/wire/test_transport_pins.py",
        "tests/wire/test_transport_answers_pins.py",
        "tests/wire/test_transport_survivors_pins.py",
        # exchange(), clean_server_text() and retry_after_hint() serve the STS and metadata clients
        "tests/wire/test_sts_client.py",
        "tests/wire/test_metadata_client.py",
        "tests/identity/test_refreshing.py",
        "tests/wire/test_token_refresh.py",
        "tests/wire/test_transport_exchange_pins.py",
    ),
    "wire.fc2_client": (
        "tests/wire/test_client.py",
        "tests/wire/test_fc2_client_pins.py",
        "tests/wire/test_fc3.py",
        "tests/wire/test_signing_hot_path.py",
        "tests/wire/test_transport_boundary.py",
        "tests/wire/test_list_triggers.py",
        "tests/wire/test_fc2_client_credentials_pins.py",
    ),
    "wire.retry": (
        "tests/wire/test_retry.py",
        "tests/wire/test_retry_pins.py",
        "tests/wire/test_outage.py",
        "tests/wire/test_client.py",
        "tests/wire/test_retry_unreached_pins.py",
    ),
    "wire.ratelimit": (
        "tests/wire/test_ratelimit.py",
        "tests/wire/test_ratelimit_pins.py",
        "tests/wire/test_ratelimit_pacing.py",
        "tests/wire/test_ratelimit_controller_pins.py",
        "tests/wire/test_shared_quota.py",  # absorb, start_before, admitted_after
    ),
    "wire.shared_quota": ("tests/wire/test_shared_quota.py",),
    "wire.pager": ("tests/wire/test_pager.py", "tests/wire/test_pager_pins.py"),
    "crawl.pipeline": (
        "tests/crawl/test_crawl_workers.py",
        "tests/crawl/test_crawl_selection.py",
        "tests/crawl/test_crawl_duplicates.py",
        "tests/crawl/test_estate_lanes.py",
        "tests/wire/test_fc3.py",
        "tests/e2e/test_e2e_crawl.py",
        "tests/crawl/test_pipeline_inprocess.py",
        "tests/crawl/test_pipeline_pins.py",
        "tests/crawl/test_pipeline_run_pins.py",
        "tests/crawl/test_deadlines.py",
    ),
    "crawl.deadlines": ("tests/crawl/test_deadlines.py", "tests/crawl/test_pipeline_pins.py"),
    "store.writer": (
        "tests/store/test_sink.py",
        "tests/store/test_sink_pins.py",
        "tests/store/test_sink_file_pins.py",
        "tests/e2e/test_e2e_resume.py",
        "tests/e2e/test_e2e_hostile.py",
        "tests/e2e/test_e2e_record_flow.py",
    ),
    "store.shard": (
        "tests/store/test_shard.py",
        "tests/store/test_shard_spec.py",
        "tests/store/test_merge.py",
        "tests/crawl/test_estate_lanes.py",
    ),
    "store.merge": ("tests/store/test_merge.py", "tests/store/test_merge_parts.py"),
    "audit.rules": (
        "tests/audit/test_rules.py",
        "tests/audit/test_rules_engine.py",
        "tests/audit/test_rules_policy.py",
        "tests/audit/test_rules_arns.py",
        "tests/audit/test_rules_exposure.py",
        "tests/audit/test_rules_survivors_pins.py",
    ),
    # test_summary_props (hypothesis) is left out: shrinking each killed mutant's counterexample made
    # the run take the better part of an hour on two cores
    "audit.fold": (
        "tests/audit/test_audit_fold.py",
        "tests/audit/test_fold_pins.py",
        "tests/audit/test_rollup.py",
        "tests/audit/test_summary.py",
        "tests/audit/test_summary_golden.py",
        "tests/cli/test_summarize_cli.py",
    ),
    "audit.drift": (
        "tests/audit/test_diff.py",
        "tests/audit/test_diff_sides.py",
        "tests/audit/test_diff_superseded.py",
        "tests/audit/test_drift_survivors_pins.py",
    ),
    "audit.catalogue": (
        "tests/audit/test_rules.py",
        "tests/audit/test_rules_engine.py",
        "tests/audit/test_rules_exposure.py",
        "tests/audit/test_rules_catalogue.py",
        "tests/audit/test_remediation.py",
        "tests/audit/test_catalogue_pins.py",
        "tests/audit/test_crossref_golden.py",
        "tests/audit/test_catalogue_survivors_pins.py",
    ),
    "audit.keyflags": (
        "tests/audit/test_keyflags.py",
        "tests/audit/test_fold_memory.py",
        "tests/audit/test_crossref_pins.py",
        "tests/audit/test_fold_pins.py",
    ),
    "audit.crossref": (
        "tests/audit/test_crossref_golden.py",
        "tests/audit/test_crossref_pins.py",
        "tests/audit/test_summary.py",
        "tests/audit/test_summary_golden.py",
    ),
}

#: files of the repository that tests read (test_rules_policy checks config.example.toml,
#: test_rules_catalogue the rules table of docs/rules.md); docs/ as a directory, because mutmut creates no
#: parent directory for a file it copies
ALSO_COPY: tuple[str, ...] = ("config.example.toml", "docs")

#: tests that cannot run under mutmut: this one counts calls of a method, which mutmut's trampoline
#: makes twice (it fails on the unmutated code, and mutmut then refuses to run at all)
DESELECT: tuple[str, ...] = (
    "tests/audit/test_summary.py::test_the_writer_builds_each_records_dict_once_for_the_file_and_every_subscriber",
)

KILLED_CODES = {1, 3}  # mutmut: pytest failed (1) or hit an internal error (3)
TIMEOUT_CODES = {36, -24, 24, 152, 255}
SURVIVED_CODES = {0}
NO_TESTS_CODES = {5, 33}
#: ``crashed after a failing test``: a mutant whose forked test run died of a signal (mutmut's 💥), that
#: failed a test when its tests ran again in a fresh process (``confirm_crash``); counted as killed
CRASHED = "crashed after a failing test"


@dataclass(frozen=True)
class Survivor:
    name: str
    diff: str
    status: str  # "survived", "no tests", "suspicious" (any exit code mutmut does not classify)


@dataclass(frozen=True)
class Equivalent:
    name: str
    text: str  # the whole section: the quoted mutated line and the reason


def confirm_crash(workdir: Path, name: str, tests: tuple[str, ...]) -> bool:
    """Whether a mutant whose forked run died of a signal fails a test when its tests run again in a
    fresh process, the mutant switched on by ``MUTANT_UNDER_TEST``: the tests mutmut recorded calling the
    mutated function, quickest first (``tests``, the module's, when it recorded none). A test that fails
    and leaves, say, an unclosed stream behind makes pytest raise at the end of its session; in mutmut's
    forked child that exception escapes ``pytest.main`` and the child dies of a segmentation fault
    instead of reporting the failure."""
    stats_file = workdir / "mutants" / "mutmut-stats.json"
    stats = json.loads(stats_file.read_text("utf-8")) if stats_file.exists() else {}
    durations: dict[str, float] = stats.get("duration_by_test", {})
    recorded = stats.get("tests_by_mangled_function_name", {}).get(name.rsplit("__mutmut_", 1)[0], [])
    selected = sorted(recorded, key=lambda test: durations.get(test, 0.0)) or list(tests)
    env = {**os.environ, "PYTHONHASHSEED": "0", "MUTANT_UNDER_TEST": name}
    deselect = [f"--deselect={test}" for test in DESELECT]
    command = ["nice", "-n", "19", sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
    run = subprocess.run(
        [*command, *deselect, *selected],
        cwd=workdir / "mutants",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return re.search(r"\b\d+ failed\b", run.stdout) is not None


@dataclass
class ModuleResult:
    module: str
    commit: str
    seconds: float
    killed: int = 0
    timeout: int = 0
    equivalent: list[str] = field(default_factory=list)
    survivors: list[Survivor] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    error: str | None = None
    #: of ``killed``: mutants whose forked run crashed after a failing test (``confirm_crash``)
    crashed: int = 0

    @property
    def total(self) -> int:
        return self.killed + self.timeout + len(self.equivalent) + len(self.survivors)

    @property
    def score(self) -> float | None:
        judged = self.total - len(self.equivalent)
        return None if judged == 0 else (self.killed + self.timeout) / judged


def load_equivalents(path: Path) -> dict[str, Equivalent]:
    """``## crawler.mod.x_fn__mutmut_N`` sections of the equivalents file, by mutant name."""
    if not path.exists():
        return {}
    found: dict[str, Equivalent] = {}
    sections = re.split(r"^## ", path.read_text("utf-8"), flags=re.MULTILINE)[1:]
    for section in sections:
        name, _, body = section.partition("\n")
        found[name.strip()] = Equivalent(name.strip(), body)
    return found


def mutated_lines(diff: str) -> list[str]:
    """The added lines of a mutant's diff, stripped: what an equivalents entry must quote."""
    return [
        line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")
    ]


def git_commit() -> str:
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", "crawler", "tests"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"{head}{' + uncommitted changes' if dirty else ''}"


def prepare(workdir: Path, module: str, tests: tuple[str, ...]) -> None:
    """A fresh copy of the package and the tests, and the mutmut settings for this one module."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "crawler", workdir / "crawler", ignore=ignore)
    shutil.copytree(REPO / "tests", workdir / "tests", ignore=ignore)
    # pyproject gives pytest its settings (markers, timeout, warnings as errors); it has no
    # [tool.mutmut] table, so mutmut reads the setup.cfg written here.
    shutil.copy2(REPO / "pyproject.toml", workdir / "pyproject.toml")
    for name in ALSO_COPY:  # files some tests read from the repository
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, workdir / name, ignore=ignore)
        else:
            shutil.copy2(REPO / name, workdir / name)
    selection = "\n    ".join(tests)
    also = "\n    ".join(ALSO_COPY)
    # mutmut reads a list setting one item a line: each argument on its own line
    args = "\n    ".join(["-p", "no:cacheprovider", *(f"--deselect={test}" for test in DESELECT)])
    (workdir / "setup.cfg").write_text(
        "[mutmut]\n"
        "source_paths = crawler/\n"
        f"only_mutate = crawler/{module.replace('.', '/')}.py\n"
        f"pytest_add_cli_args =\n    {args}\n"
        f"also_copy =\n    {also}\n"
        f"pytest_add_cli_args_test_selection =\n    {selection}\n",
        "utf-8",
    )


def mutmut(workdir: Path, *args: str, log: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    command = ["nice", "-n", "19", sys.executable, "-m", "mutmut", *args]
    if log is None:
        return subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, check=False)
    with log.open("w") as out:
        return subprocess.run(command, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)


def run_module(
    module: str, root: Path, equivalents: dict[str, Equivalent], *, rerun: bool = True
) -> ModuleResult:
    """Mutate ``module`` and classify its mutants; ``rerun=False`` only classifies the last run's results
    again (after the equivalents file changed), with the commit and time that run recorded."""
    workdir = root / module
    started = time.monotonic()
    stamp = root / f"{module}.run.json"
    if rerun:
        prepare(workdir, module, MODULES[module])
        result = ModuleResult(module=module, commit=git_commit(), seconds=0.0)
        run = mutmut(workdir, "run", "--max-children", "1", log=root / f"{module}.log")
        result.seconds = time.monotonic() - started
        stamp.write_text(
            json.dumps({"commit": result.commit, "seconds": result.seconds, "rc": run.returncode})
        )
    else:
        recorded = json.loads(stamp.read_text("utf-8")) if stamp.exists() else {}
        result = ModuleResult(module, recorded.get("commit", "?"), recorded.get("seconds", 0.0))
    meta = workdir / "mutants" / "crawler" / f"{module.replace('.', '/')}.py.meta"
    if not meta.exists():
        result.error = f"mutmut left no results; see {root / f'{module}.log'}"
        return result
    codes: dict[str, int | None] = json.loads(meta.read_text("utf-8"))["exit_code_by_key"]
    crashed = {
        name
        for name, code in codes.items()
        if code is not None
        and code < 0
        and code not in TIMEOUT_CODES
        and confirm_crash(workdir, name, MODULES[module])
    }
    alive = {
        name: code
        for name, code in codes.items()
        if code not in KILLED_CODES | TIMEOUT_CODES and name not in crashed
    }
    diffs = diffs_of(workdir, sorted(alive))
    for name, code in sorted(codes.items(), key=lambda kv: _natural(kv[0])):
        if code in KILLED_CODES or name in crashed:
            result.killed += 1
            result.crashed += name in crashed
            continue
        if code in TIMEOUT_CODES:
            result.timeout += 1
            continue
        status = (
            "survived" if code in SURVIVED_CODES else "no tests" if code in NO_TESTS_CODES else f"exit {code}"
        )
        diff = diffs[name]
        entry = equivalents.get(name)
        if entry is not None and status == "survived":
            if all(line in entry.text for line in mutated_lines(diff)):
                result.equivalent.append(name)
                continue
            result.stale.append(name)
        result.survivors.append(Survivor(name, diff, status))
    return result


# ``mutmut show NAME`` prints one diff per process start (seconds each on a loaded machine); this asks
# mutmut's own diff function for all of them in one process, and falls back to ``show`` if it moved.
_DIFFS = """
import json, sys
from mutmut.mutation.diff_apply import find_mutant, get_diff_for_mutant
names = json.load(sys.stdin)
print(json.dumps({n: get_diff_for_mutant(n, path=find_mutant(n).path) for n in names}))
"""


def diffs_of(workdir: Path, names: list[str]) -> dict[str, str]:
    if not names:
        return {}
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    batch = subprocess.run(
        [sys.executable, "-c", _DIFFS],
        cwd=workdir,
        env=env,
        input=json.dumps(names),
        capture_output=True,
        text=True,
        check=False,
    )
    if batch.returncode == 0:
        found: dict[str, str] = json.loads(batch.stdout.strip().splitlines()[-1])
        return found
    shown = {}
    for name in names:
        lines = mutmut(workdir, "show", name).stdout.splitlines()
        shown[name] = "\n".join(line for line in lines if not line.startswith("# "))
    return shown


def _natural(name: str) -> tuple[str, int]:
    stem, _, number = name.rpartition("_")
    return (stem, int(number) if number.isdigit() else 0)


def render(results: list[ModuleResult]) -> str:
    total_seconds = sum(r.seconds for r in results)
    lines = [
        "# Mutation report",
        "",
        f"mutmut 3, one worker under nice; {total_seconds / 60:.1f} min of mutation runs in all.",
        "Score = (killed + timeout) / (mutants - equivalent).",
        "",
        "| module | commit | mutants | killed | timeout | survived | equivalent | score | minutes |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        score = "error" if r.error else "-" if r.score is None else f"{r.score:.1%}"
        lines.append(
            f"| {r.module} | {r.commit} | {r.total} | {r.killed} | {r.timeout} | {len(r.survivors)} "
            f"| {len(r.equivalent)} | {score} | {r.seconds / 60:.1f} |"
        )
    for r in results:
        if r.crashed:
            lines += ["", f"{r.module}: {r.killed} killed, {r.crashed} of them {CRASHED} (`confirm_crash`)."]
    for r in results:
        if r.error:
            lines += ["", f"## {r.module}: {r.error}"]
            continue
        if not r.survivors and not r.stale:
            continue
        lines += ["", f"## {r.module}: {len(r.survivors)} surviving"]
        for name in r.stale:
            lines.append(f"- {name}: listed as equivalent but its mutated line changed; re-check it")
        for s in r.survivors:
            lines += ["", f"### {s.name} ({s.status})", "", "```diff", s.diff, "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("modules", nargs="*", metavar="MODULE", help="modules to mutate (default: all)")
    parser.add_argument("--list", action="store_true", help="print the modules and their tests, and exit")
    parser.add_argument("--workdir", type=Path, default=REPO / ".mutation", help="scratch directory")
    parser.add_argument("--report", type=Path, default=None, help="report path (default: WORKDIR/report.md)")
    parser.add_argument(
        "--classify-only",
        action="store_true",
        help="do not run mutmut: classify the last run in WORKDIR again (after editing the equivalents)",
    )
    args = parser.parse_args(argv)
    if args.list:
        for module, tests in MODULES.items():
            print(f"{module}: crawler/{module.replace('.', '/')}.py <- {' '.join(tests)}")
        return 0
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        print(
            f"mutation: unknown module {', '.join(unknown)}; choose from {', '.join(MODULES)}",
            file=sys.stderr,
        )
        return 2
    try:
        import mutmut  # noqa: F401  (only to say what to install when it is missing)
    except ImportError:
        print("mutation: mutmut is not installed; run pip install -e '.[test,mutation]'", file=sys.stderr)
        return 2
    modules = args.modules or list(MODULES)
    equivalents = load_equivalents(EQUIVALENTS)
    args.workdir.mkdir(parents=True, exist_ok=True)
    report = args.report or args.workdir / "report.md"
    results: list[ModuleResult] = []
    for module in modules:
        print(f"mutation: {module} ...", file=sys.stderr, flush=True)
        results.append(run_module(module, args.workdir, equivalents, rerun=not args.classify_only))
        last = results[-1]
        print(
            f"mutation: {module}: {last.killed} killed, {last.timeout} timeout, "
            f"{len(last.survivors)} survived, {len(last.equivalent)} equivalent in {last.seconds:.0f} s",
            file=sys.stderr,
            flush=True,
        )
        report.write_text(render(results), "utf-8")
    print(f"mutation: report in {report}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

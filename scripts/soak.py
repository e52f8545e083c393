"""Soak: run the integration and e2e layers N times in a row, then list every failure with its run number.

``make soak`` (N=10) or ``make soak N=3``; any pytest arguments after ``--`` go to every run
(``python scripts/soak.py --runs 3 -- -k redis``). Each run's output is kept in ``artifacts/soak/run-<n>.log``;
the exit code is 1 if any run had a failure.
"""

import argparse
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = PROJECT_ROOT / "artifacts" / "soak"
LAYERS = "integration or e2e"
#: pytest's short test summary lines (``-ra``): ``FAILED tests/...::test_x - why`` and ``ERROR ...``.
SUMMARY_LINE = re.compile(r"^(FAILED|ERROR) (\S+)(?: - (.*))?$", re.MULTILINE)


@dataclass(frozen=True)
class Failure:
    """One test that failed (or errored) in one run."""

    run: int
    outcome: str
    test_id: str
    reason: str


def failures_in(output: str, run: int, exit_code: int) -> list[Failure]:
    """The failures a run's output lists; a run that failed without listing any is one failure itself."""
    found = [Failure(run, outcome, test_id, reason or "") for outcome, test_id, reason in SUMMARY_LINE.findall(output)]
    if exit_code != 0 and not found:
        found.append(Failure(run, "ERROR", "(the whole run)", f"pytest exited with code {exit_code}"))
    return found


def run_once(run: int, pytest_args: Sequence[str]) -> tuple[list[Failure], float]:
    """Run the layers once, keeping the output in its log; its failures and how long it took."""
    command = [sys.executable, "-m", "pytest", "-m", LAYERS, "-q", "-rfE", "-p", "no:cacheprovider", *pytest_args]
    started = time.monotonic()
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    took = time.monotonic() - started
    output = done.stdout + done.stderr
    (LOG_DIR / f"run-{run}.log").write_text(output, encoding="utf-8")
    return failures_in(output, run, done.returncode), took


def summary(failures: Sequence[Failure], runs: int) -> str:
    """Every failure, by test, with the runs it failed in."""
    if not failures:
        return f"soak: {runs} runs, no failures"
    lines = [f"soak: {runs} runs, {len(failures)} failures in {len({f.run for f in failures})} runs:"]
    for test_id in sorted({f.test_id for f in failures}):
        of_test = [f for f in failures if f.test_id == test_id]
        lines.append(f"  {test_id}: failed in run(s) {', '.join(str(f.run) for f in of_test)}")
        lines += [f"    run {f.run}: {f.outcome} {f.reason}" for f in of_test]
    lines.append(f"each run's output: {LOG_DIR.relative_to(PROJECT_ROOT)}/run-<n>.log")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the soak; 1 if anything failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="how many times to run the layers (default 10)")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments for every run (after --)")
    options = parser.parse_args(argv)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    failures: list[Failure] = []
    for run in range(1, options.runs + 1):
        found, took = run_once(run, options.pytest_args)
        failures += found
        status = "ok" if not found else f"{len(found)} failed: " + ", ".join(f.test_id for f in found)
        sys.stdout.write(f"run {run}/{options.runs}: {took:.0f}s, {status}\n")
        sys.stdout.flush()
    sys.stdout.write(summary(failures, options.runs) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""How long the test suite takes: `make test-fast` and `make test`, each timed from start to end, with the 10
slowest tests of `make test` (pytest's --durations), written into benchmarks/README.md between the `suite` markers;
pytest's whole output goes to grading/suite/<target>.log.

    python -m benchmarks.suite [--no-write]

Run it on a clean clone whose .venv is already built (the install is reported apart: it is not the suite's time).
"""
from __future__ import annotations

import argparse
import datetime
import os
import pathlib
import re
import subprocess
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "benchmarks" / "README.md"
LOGS = ROOT / "grading" / "suite"  # git-ignored
BEGIN, END = "<!-- suite:begin -->", "<!-- suite:end -->"
DURATION = re.compile(r"^\s*([\d.]+)s (call|setup|teardown)\s+(\S+)")
SUMMARY = re.compile(r"=+ (.*) in ([\d.]+)s")


def timed(target: str) -> tuple[float, str, int]:
    start = time.perf_counter()
    done = subprocess.run(["make", "--no-print-directory", target], cwd=ROOT, capture_output=True, text=True)
    log = done.stdout + done.stderr
    LOGS.mkdir(parents=True, exist_ok=True)
    (LOGS / f"{target}.log").write_text(log)  # pytest's whole output, failures included
    return time.perf_counter() - start, log, done.returncode


def slowest(log: str, n: int = 10) -> list[tuple[float, str, str]]:
    rows = [(float(m[1]), m[2], m[3]) for m in map(DURATION.match, log.splitlines()) if m]
    return sorted(rows, reverse=True)[:n]


def table(results: dict[str, tuple[float, str, int]]) -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [BEGIN, "## The test suite", "",
             f"Measured by `python -m benchmarks.suite` on {os.cpu_count()} cores, "
             f"{datetime.date.today().isoformat()}; load average at the end {load}.", "",
             "| target | wall | target | result |", "|---|---:|---|---|"]
    budget = {"test-fast": 60, "test": 600}
    for target, (seconds, log, code) in results.items():
        found = SUMMARY.findall(log)
        result = found[-1][0] if found else f"exit {code}"
        ok = "yes" if seconds <= budget[target] and code == 0 else "no"
        lines.append(f"| `make {target}` | {seconds:.0f} s | <= {budget[target]} s: {ok} | {result} |")
    lines += ["", "The 10 slowest tests of `make test` (pytest --durations; with `-n 2` two run at a time):", "",
              "| seconds | phase | test |", "|---:|---|---|"]
    lines += [f"| {s:.1f} | {phase} | `{test}` |" for s, phase, test in slowest(results["test"][1])]
    return "\n".join(lines + [END])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    results = {target: timed(target) for target in ("test-fast", "test")}
    text = table(results)
    print(text)
    if not args.no_write:
        readme = README.read_text()
        if BEGIN in readme:
            readme = readme[:readme.index(BEGIN)] + text + readme[readme.index(END) + len(END):]
        else:
            readme = readme.rstrip() + "\n\n" + text + "\n"
        README.write_text(readme)


if __name__ == "__main__":
    main()

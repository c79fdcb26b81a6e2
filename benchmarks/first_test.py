"""pytest plugin for benchmarks/lectures.py: records when collection ends, when the first test starts and
when its result arrives (seconds since BENCH_T0, the moment `make test` was started) into BENCH_FIRST_TEST, then stops pytest.

    BENCH_T0=$(date +%s.%N) BENCH_FIRST_TEST=out.txt PYTEST_ADDOPTS="-p benchmarks.first_test" make test
"""
import os
import time

import pytest

_marks: dict[str, str] = {}


def _write() -> None:
    with open(os.environ["BENCH_FIRST_TEST"], "w") as f:
        f.write("\n".join(f"{k}={v}" for k, v in _marks.items()) + "\n")


def _since_start() -> str:
    return f"{time.time() - float(os.environ['BENCH_T0']):.3f}"


def pytest_collection_finish(session):
    _marks["collected"] = _since_start()
    _write()


def pytest_runtest_logstart(nodeid, location):
    if "start" not in _marks:
        _marks["start"] = _since_start()
        _write()


def pytest_runtest_logreport(report):
    if "first" in _marks or not (report.when == "call" or report.outcome != "passed"):
        return
    _marks["first"] = _since_start()
    _marks["test"] = report.nodeid.replace(" ", "_")
    _write()
    pytest.exit("benchmarks/first_test: first test done", returncode=0)

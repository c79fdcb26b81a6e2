"""The hub test (a whole term on a real JupyterHub) runs only when asked for: `make test-hub`, as root, which
installs what it needs (PostgreSQL, the hub's proxy, Chromium) and sets INITNORM_HUB_TEST=1. Plain
`pytest tests` (`make test`) leaves this folder out rather than reporting a skip."""
from __future__ import annotations

import os

collect_ignore_glob = [] if os.environ.get("INITNORM_HUB_TEST") == "1" else ["test_*.py"]


def pytest_configure(config):
    config.addinivalue_line("markers", "hub: a whole term on a JupyterHub in Chromium (tests/hub, make test-hub)")

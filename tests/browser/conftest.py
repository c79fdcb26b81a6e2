"""The browser suite: one JupyterLab server (on a temporary copy of the course) and one Chromium for the whole
session; every test gets a fresh browser context and leaves no kernel running."""
from __future__ import annotations

import pytest

from tests.browser.labdriver import Lab, copy_course, launch


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives JupyterLab in Chromium (tests/browser)")


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    root = copy_course(tmp_path_factory.mktemp("course"))
    server = Lab.start(root, tmp_path_factory.mktemp("jupyter-home"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture
def page(browser, lab):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context.new_page()
    context.close()
    lab.shutdown_kernels()

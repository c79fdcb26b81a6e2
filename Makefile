# The course's commands. `make lab` for students, `make test` for everyone, the rest for instructors.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# nbgrader needs `alembic` (and jupyter) on PATH when it creates a gradebook
export PATH := $(abspath $(VENV))/bin:$(PATH)
ASSIGNMENT ?= ex1_initialization
SUBMISSIONS ?= submissions/$(ASSIGNMENT)
WORKSPACE ?= grading

.PHONY: install lab test test-fast check screenshots release grade exchange-release collect feedback bench clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

# JupyterLab refuses to start as root unless told: containers, CI and many hub images run as root
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=. $(ALLOW_ROOT) $(LAB_ARGS)

# the browser suite (tests/browser) drives Debian's Chromium; install it when it is missing (needs root)
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	test -x $(CHROMIUM) || (DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) || \
		(echo "install Debian's chromium (as root: apt-get install chromium)"; exit 1)

# both cores; an xdist group (one exercise's catalogue, the grading suite, the browser) stays on one worker.
# Unit tests come first, then notebooks, grading and the browser (tests/conftest.py); the 10 slowest are listed.
test: $(STAMP) $(CHROMIUM)
	$(PY) -m pytest -n 2 --dist loadgroup --durations=10 tests

# unit tests only: no notebook execution, no nbgrader, no browser (<= 60 s)
test-fast: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadgroup -m "not slow" --durations=10 tests

# students, before submitting: structure against the release + nbgrader validate (NOTEBOOK=path/to/ex.ipynb)
check: $(STAMP)
	@test -n "$(NOTEBOOK)" || (echo "usage: make check NOTEBOOK=exercises/ex1_initialization/ex1_initialization.ipynb"; exit 2)
	$(PY) -m autograder check "$(NOTEBOOK)"

# a PNG of the main widget of each lecture, as JupyterLab shows it (docs/screenshots/, shown in the README)
screenshots: $(STAMP) $(CHROMIUM)
	$(PY) -m tests.browser.screenshots

release: $(STAMP)
	$(PY) -m autograder release

# SUBMISSIONS: a folder of <student>.ipynb, nbgrader's submitted/ tree, or an LMS zip; GRADE_ARGS e.g. --jobs 8 --force
grade: $(STAMP)
	$(PY) -m autograder grade $(ASSIGNMENT) $(SUBMISSIONS) --workspace $(WORKSPACE) $(GRADE_ARGS)

# the nbgrader exchange (a course on a JupyterHub): README, "Running the course on a JupyterHub"
EXCHANGE ?= /srv/nbgrader/exchange
COURSE ?= initnorm
EXCHANGE_ARGS = --workspace $(WORKSPACE) --exchange $(EXCHANGE) --course $(COURSE)
exchange-release: $(STAMP)
	$(PY) -m autograder exchange-release $(ASSIGNMENT) $(EXCHANGE_ARGS) $(if $(DUEDATE),--duedate "$(DUEDATE)")

collect: $(STAMP)
	$(PY) -m autograder collect $(ASSIGNMENT) $(EXCHANGE_ARGS)

feedback: $(STAMP)
	$(PY) -m autograder feedback $(ASSIGNMENT) $(EXCHANGE_ARGS)

# grading speed, then lecture execution, widget latency and time to the first test (table -> benchmarks/README.md)
bench: $(STAMP)
	$(PY) -m benchmarks.grading
	$(PY) -m benchmarks.lectures

clean:
	rm -rf $(WORKSPACE) .pytest_cache

# ---- the course on a JupyterHub (README, "Running the course on a JupyterHub"); both need root.
# configurable-http-proxy (the hub's proxy) from npm into .hub/proxy (git-ignored); PostgreSQL (the gradebook's
# server) from Debian when it is missing
HUB_PROXY := .hub/proxy/node_modules/.bin/configurable-http-proxy
HUB_PROXY_VERSION := 5.2.0
.PHONY: hub test-hub hub-postgresql

$(HUB_PROXY):
	npm install --prefix .hub/proxy --no-audit --no-fund --no-save configurable-http-proxy@$(HUB_PROXY_VERSION)

hub-postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || (DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql) || \
		(echo "install Debian's PostgreSQL server (as root: apt-get install postgresql)"; exit 1)

# a hub on 127.0.0.1:8000 with an instructor and two students; prints the URL and the passwords; Ctrl-C stops it
hub: $(STAMP) $(HUB_PROXY) hub-postgresql
	$(PY) -m autograder.hub $(HUB_ARGS)

# the browser test of a whole term on that hub (tests/hub); HUB_SCREENSHOTS=docs/screenshots keeps its pictures
test-hub: $(STAMP) $(CHROMIUM) $(HUB_PROXY) hub-postgresql
	INITNORM_HUB_TEST=1 HUB_SCREENSHOTS="$(HUB_SCREENSHOTS)" $(PY) -m pytest -p no:cacheprovider tests/hub

# `make lab` is a student's JupyterLab: the Assignments panel and Validate, no instructor tools, no news prompt
# (autograder/jupyter/student; the hub gives its students the same, its instructors autograder/jupyter/instructor)
lab: export JUPYTER_CONFIG_PATH := $(CURDIR)/autograder/jupyter/student:$(CURDIR)/autograder/jupyter/common$(if $(JUPYTER_CONFIG_PATH),:$(JUPYTER_CONFIG_PATH))

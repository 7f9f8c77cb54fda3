# The two set-up commands of the README: `make run` and `make test`. Both install what is missing and
# are quiet when everything is there already.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# `make test PYTEST_JOBS=2` runs the suite on two pytest-xdist workers, each a pytest session with a
# containerd of its own; whole test files are the units of work (tests/conftest.py). 0: one process.
PYTEST_JOBS ?= 0

.PHONY: run test host venv lint bench protos grammar clean

run: host venv
	@$(VENV)/bin/pouchsh $(ARGS)

test: host venv
	@$(VENV)/bin/lint-imports --no-cache >/tmp/pouchsh-lint-imports.log || { cat /tmp/pouchsh-lint-imports.log; exit 1; }
	@$(PY) -m pytest -n $(PYTEST_JOBS) --dist loadgroup $(PYTEST_ARGS)

host:
	@bash scripts/setup-host.sh

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# compat: a .pth path entry instead of setuptools' import finder, which costs ~10 ms of every start
	@# (setuptools calls the mode transitional; should it go, the default mode only costs those ms)
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]' --config-settings editable_mode=compat
	@touch $(STAMP)

lint: venv
	@$(VENV)/bin/lint-imports --no-cache

bench: host venv
	@bash scripts/setup-host.sh bench
	@$(PY) -m bench $(ARGS)

protos: venv
	@$(PY) -m ctrd.api.generate

grammar: venv
	@$(PY) -m grammar.generate

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info

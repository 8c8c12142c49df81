# Two commands on a fresh machine with only python3: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export MPLBACKEND := Agg
export PYTHONUNBUFFERED := 1

.PHONY: demo test test-all bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) -m examples.demo

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist worksteal -q

test-all: $(STAMP)
	$(PY) -m pytest -n 2 --dist worksteal -q -m ''

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .jax-cache

# Two commands on a fresh machine: `make demo` and `make test`. Both create or reuse .venv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench docs docs-site tables clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m actlang demo

lint: $(STAMP)
	$(VENV)/bin/ruff check actlang tests benchmarks examples

test: lint
	HYPOTHESIS_PROFILE=ci $(PY) -m pytest -n 2 --dist loadgroup -q

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

docs: $(STAMP)
	$(PY) -m actlang.docs

# Lark's LALR tables for grammar/actlang.lark, written ahead of time (actlang/lalr_tables.py): run
# after editing the grammar or upgrading Lark (tests/test_lalr_tables.py fails until then).
tables: $(STAMP)
	$(PY) -c 'from actlang.lalr_build import write_tables; write_tables()'

# The documentation site (MkDocs Material, API reference by mkdocstrings) in site/; --strict: a
# broken link or a missing API object is an error.
docs-site: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache site

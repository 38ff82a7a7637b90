# The README's commands. `make demo` and `make test` set up .venv themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo serve test test-fast warm bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch==2.13.0 first: on the project's CPU machines a local wheel of exactly that version
# exists; installing it before the package keeps pip from fetching a CUDA build.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev,onnx,app]'
	touch $@

install: $(VENV)/.installed

# pymatting compiles its numba kernels on first use (about a minute); do it once, up front.
$(VENV)/.warm: $(VENV)/.installed
	$(BIN)/python -c "import numpy as np, pymatting as pm; i=np.random.rand(48,48,3); t=np.full((48,48),.5); t[0]=0; t[-1]=1; pm.estimate_alpha_cf(i,t); pm.estimate_alpha_knn(i,t); pm.estimate_alpha_lkm(i,t); pm.estimate_alpha_rw(i,t); pm.estimate_alpha_sm(i,t); pm.estimate_foreground_ml(i,t)"
	touch $@

warm: $(VENV)/.warm

demo: $(VENV)/.warm
	$(BIN)/alphagan demo --out demo_out

# The page and HTTP API on http://127.0.0.1:7860 (Ctrl+C stops it).
serve: $(VENV)/.warm
	$(BIN)/alphagan serve

test: $(VENV)/.warm
	$(BIN)/python -m pytest -q

test-fast: $(VENV)/.installed
	$(BIN)/python -m pytest -q -m "not slow"

# The performance table in README.md (about 20 minutes on 2 cores; nothing else running).
bench: $(VENV)/.warm
	$(BIN)/python -m benchmarks.run --update-readme

clean:
	rm -rf demo_out .pytest_cache

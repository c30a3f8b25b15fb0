# One virtual environment, installed in an order that keeps exactly one cv2 and the CPU torch.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Packages whose declared dependencies would pull a second cv2 (opencv-python / opencv-contrib-python)
# or unused jax: installed without their dependencies; their real needs are in pyproject.toml.
NODEPS := mediapipe==0.10.14
DEMO   ?= demo-project

.PHONY: setup test demo clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test,train]"
	$(BIN)/pip install -q --no-deps $(NODEPS)
	touch $@

test: setup
	$(BIN)/python -m pytest -q tests

demo: setup
	rm -rf $(DEMO)
	$(BIN)/grewkit init $(DEMO)
	$(BIN)/grewkit doctor
	$(BIN)/grewkit status --project $(DEMO)
	$(BIN)/grewkit validate --project $(DEMO)

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache

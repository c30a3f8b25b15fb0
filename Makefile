# One virtual environment, installed in an order that keeps exactly one cv2 and the CPU torch.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Packages whose declared dependencies would pull a second cv2 (opencv-python / opencv-contrib-python)
# or unused jax: installed without their dependencies; their real needs are in pyproject.toml.
NODEPS := mediapipe==0.10.14
NODEPS += trackers==2.6.1 supervision==0.26.1
NODEPS += label-studio-sdk==2.1.2

DEMO   ?= demo-project

.PHONY: setup test test-fast lint demo demo-vtest clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test,train,ray,openvino]"
	$(BIN)/pip install -q --no-deps $(NODEPS)
	touch $@

# Services and environments the tests need besides the venv (e.g. Label Studio's own venv).
TEST_NEEDS := setup
TEST_NEEDS += label-studio
# Label Studio pins its own Django, pyarrow and label-studio-sdk: it lives in its own venv, found by
# grewkit through .venv-label-studio/bin/label-studio (or $$GREWKIT_LABEL_STUDIO).
LS_VENV ?= .venv-label-studio
.PHONY: label-studio
label-studio: $(LS_VENV)/.installed
$(LS_VENV)/.installed:
	$(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/pip install -q --upgrade pip
	$(LS_VENV)/bin/pip install -q label-studio==1.23.2
	touch $@
# Debian's chromium for the labelling-page screenshot test (it skips, saying why, where none can be installed).
TEST_NEEDS += chromium
.PHONY: chromium
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || echo "chromium not installed: the labelling-page screenshot test will skip"

test: $(TEST_NEEDS)
	$(BIN)/python -m pytest -q tests

# The quick loop while working: no Label Studio server, nothing marked slow.
test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow and not server" tests

# ruff's lint rules and formatter, configured in pyproject.toml (also the pre-commit hooks).
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The README's first command: the whole pipeline on the embedded demo settings (a small synthetic
# world, a real Label Studio round trip with simulated annotators, training, evaluation, report).
demo: setup label-studio
	rm -rf $(DEMO)
	$(BIN)/grewkit doctor
	$(BIN)/grewkit run --project $(DEMO) --demo
	$(BIN)/grewkit validate --project $(DEMO)
	$(BIN)/grewkit status --project $(DEMO)
	cat $(DEMO)/reports/report.md

# Second demo: detect + track + render on real footage (PETS 2009 via OpenCV's vtest.avi), and a
# picture of the tracks in $(VTEST)/reports/tracks/. The video comes from ../shared/data when it is
# there, else from Debian's opencv-doc package (apt-get download needs no root).
VTEST     ?= vtest-project
VTEST_AVI ?= $(firstword $(wildcard ../shared/data/vtest.avi) .cache/opencv-doc/usr/share/doc/opencv-doc/examples/data/vtest.avi)
demo-vtest: setup
	test -f $(VTEST_AVI) || (mkdir -p .cache/opencv-doc && cd .cache/opencv-doc && apt-get download opencv-doc && dpkg-deb -x opencv-doc_*.deb .)
	rm -rf $(VTEST)
	$(BIN)/grewkit init $(VTEST)
	printf 'camera_id,file,site,description\npets-s2l1-view001,%s,PETS 2009,PETS 2009 S2.L1 View_001\n' "$(abspath $(VTEST_AVI))" > $(VTEST)/cameras.csv
	$(BIN)/grewkit ingest $(VTEST_AVI) --cameras $(VTEST)/cameras.csv --project $(VTEST)
	$(BIN)/grewkit detect --project $(VTEST)
	$(BIN)/grewkit track --project $(VTEST)
	$(BIN)/grewkit render --project $(VTEST)
	$(BIN)/grewkit tracks-picture --project $(VTEST)

clean:
	rm -rf $(VENV) $(DEMO) $(VTEST) .pytest_cache

# OpenMMLab (mmdet detection, mmpose top-down pose) in a venv of its own, apart from the main one:
# mmpose needs torchvision, which does not import beside the main venv's torch 2.13.0; mmcv 2.1.0
# compiles from source (about 15-25 min on 2 cores, longer with MAX_JOBS=1), needs setuptools<81
# and C++17 (torch 2.14's headers demand C++20, which mmcv's setup.py does not pass): torch 2.9.1
# with torchvision 0.24.1 on every machine kind; xtcocotools' wheel imports only with numpy<2. grewkit runs
# these models in a worker process started with this venv's python, found as
# $$GREWKIT_OPENMMLAB_PYTHON or .venv-openmmlab/bin/python. Not a prerequisite of `make test`:
# the OpenMMLab tests skip, saying why, where this venv is missing.
OMM_VENV  ?= .venv-openmmlab
OMM_TORCH := torch==2.9.1 torchvision==0.24.1
OMM_PIP    = $(OMM_VENV)/bin/pip install -q "numpy<2" "setuptools<81"
.PHONY: openmmlab
openmmlab: $(OMM_VENV)/.installed
$(OMM_VENV)/.installed:
	$(PYTHON) -m venv $(OMM_VENV)
	$(OMM_PIP) wheel ninja
	$(OMM_PIP) $(OMM_TORCH)
	$(OMM_PIP) mmengine==0.10.7 "opencv-python<4.12"
	MAX_JOBS=$${MAX_JOBS:-2} $(OMM_PIP) --no-build-isolation mmcv==2.1.0
	$(OMM_PIP) mmdet==3.3.0
	# chumpy (declared by mmpose, used only by its SMPL tools) does not build: mmpose goes in without it.
	$(OMM_PIP) --no-deps mmpose==1.3.2
	$(OMM_PIP) json_tricks munkres "xtcocotools>=1.12" scipy matplotlib pillow
	touch $@

# The two commands of the README: `make dashboard` and `make test`. Each sets itself up in .venv/.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8501

.PHONY: setup poses test dashboard bench lint demo clean

setup: $(STAMP)

# torch first, pinned, so that pip takes the CPU wheel and never resolves a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# MediaPipe (pose extraction) needs protobuf < 5, so it gets its own environment: a pinned, closed set.
POSES_VENV := .venv-poses
POSES_STAMP := $(POSES_VENV)/.installed
POSES_REQ := epam_core/poses/requirements.txt

poses: $(POSES_STAMP)

$(POSES_STAMP): $(POSES_REQ)
	$(PY) -m venv $(POSES_VENV)
	$(POSES_VENV)/bin/pip install --quiet --no-deps -r $(POSES_REQ)
	$(POSES_VENV)/bin/python -c "import mediapipe; mediapipe.solutions.pose.Pose(model_complexity=1).close()"
	touch $(POSES_STAMP)

test: $(STAMP) $(POSES_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

dashboard: $(STAMP)
	$(BIN)/epam dashboard --host $(HOST) --port $(PORT)

bench: $(STAMP)
	$(BIN)/epam bench

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

demo: $(STAMP)
	$(BIN)/epam demo

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info

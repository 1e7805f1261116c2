# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch is pinned to the CPU build that pip finds on local disk here; a plain `torch`
# could pull a multi-GB CUDA build.
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: demo test install clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[experiment,postgres,test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m pipelines.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -ra

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

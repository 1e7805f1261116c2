"""The contract of DESIGN.md in one place: tag and metric names, precisions with their bytes,
the one unit of memory, and the MLflow names and limits we rely on.

Every module reads and writes these names through this file, so what the reports, the decision
log and `mlflow ui` rely on cannot drift between modules.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

from .errors import BadInput

# ---------------------------------------------------------------- units
#: Every `*_gb` tag and metric is decimal gigabytes (10^9 bytes), as the GPU catalog and the
#: memory planner count ("a 32 GB card"); never GiB.
GB = 1_000_000_000

# ---------------------------------------------------------------- precisions
#: Bytes one stored weight takes. int8/int4 are the bitsandbytes/GPTQ-style packed sizes; their
#: scales and zero points add ~1-3 % that nothing here counts.
PRECISION_BYTES: dict[str, float] = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5}
PRECISIONS = tuple(PRECISION_BYTES)
# other spellings of a precision: torch dtype names (what `cogit.model.dtype_loaded` records)
_PRECISION_ALIASES = {"float32": "fp32", "float16": "fp16", "half": "fp16", "bfloat16": "bf16",
                      "qint8": "int8"}


def precision_of(name: str | None) -> str | None:
    """The precision a tag or a loaded dtype names (`fp16`, `torch.float16`, `half`), or None."""
    if not name:
        return None
    key = str(name).strip().lower().removeprefix("torch.")
    key = _PRECISION_ALIASES.get(key, key)
    return key if key in PRECISION_BYTES else None


def check_precision(name: str, what: str = "precision") -> str:
    """The canonical precision for `name`; anything else is the user's bad input."""
    found = precision_of(name)
    if found is None:
        raise BadInput(f"unknown {what} {name!r}; accepted: {', '.join(PRECISIONS)}")
    return found


# ---------------------------------------------------------------- tags every cogit run carries
UID = "cogit.uid"            # UUID4, stable across stores; links use it, never run_id
KIND = "cogit.kind"          # campaign | phase | decision
KINDS = ("campaign", "phase", "decision", "prediction")

CAMPAIGN = "cogit.campaign"
MODEL = "cogit.model"
PRECISION = "cogit.precision"
PROVIDER = "cogit.provider"
PHASE = "cogit.phase"
PHASE_INDEX = "cogit.phase.index"
# on a campaign: the phases it means to run, comma-separated, so the work not yet started is
# known while it runs (`cogit-log advise`)
PHASES_PLANNED = "cogit.phases"
DTYPE_LOADED = "cogit.model.dtype_loaded"
OPERATOR_DEVICE = "cogit.operator.device"

GPU_NAME = "cogit.gpu.name"
GPU_KEY = "cogit.gpu.key"
GPU_COUNT = "cogit.gpu.count"
GPU_VRAM_TOTAL_GB = "cogit.gpu.vram_total_gb"
GPU_DRIVER = "cogit.gpu.driver"
CUDA = "cogit.cuda"
CPU_MODEL = "cogit.cpu.model"
CPU_CORES = "cogit.cpu.cores"
RAM_TOTAL_GB = "cogit.ram_total_gb"
HOST = "cogit.host"
# measured on GPU-less hosts at campaign start, so a CPU run can be projected onto a GPU
CPU_GFLOPS = "cogit.cpu.gflops"
CPU_BANDWIDTH_GBS = "cogit.cpu.bandwidth_gbs"
NO_GPU = "none"              # gpu.key, driver and cuda of a host without a GPU

USD_PER_HOUR = "cogit.cost.usd_per_hour"
RATE_SOURCE = "cogit.cost.rate_source"
RATE_SOURCES = ("arg", "env", "config", "catalog", "unknown")

HEARTBEAT = "cogit.heartbeat"  # epoch milliseconds
FAILURE = "cogit.failure"
FAILURES = ("cuda_oom", "exception", "sigterm", "interrupted", "budget", "stopped", "stale",
            "killed")
FAILURE_MESSAGE = "cogit.failure.message"
# a job of several ranks (runtime/ranks.py): one campaign and one run per phase for the job
JOB = "cogit.job"                  # what the job's ranks share (torchrun's run id, SLURM's job)
RANKS = "cogit.ranks"              # how many ranks the job has
NODES_COUNT = "cogit.nodes"        # how many nodes
# A node is named `node<K>`, K its index in the job (torchrun's GROUP_RANK, SLURM_NODEID), so
# two nodes on one host (or two hosts of one name) stay apart; its host name is a tag of its own.
NODE_PREFIX = "cogit.node."        # + node: its GPUs, e.g. "2 x NVIDIA H100 80GB HBM3"
HOST_PREFIX = "cogit.host."        # + node: its host name
RANK_NODE_PREFIX = "cogit.node_of.rank"  # + N: the node rank N runs on, e.g. "node1"
RANK_METRIC_PREFIX = "rank"        # + N + "/": a rank's own peaks and time (`rank1/vram_peak_gb`)
FAILURE_RANK = "cogit.failure.rank"
FAILURE_NODE = "cogit.failure.node"  # the failing rank's node, e.g. "node1"
# what `on_budget=` / COGIT_ON_BUDGET ran when the budget was spent (on the campaign run)
BUDGET_COMMAND = "cogit.budget.command"
BUDGET_COMMAND_STATUS = "cogit.budget.command.status"   # exit code, or why there is none
BUDGET_COMMAND_OUTPUT = "cogit.budget.command.output"   # its stdout and stderr, tail
BUDGET_USD = "cogit.budget.usd"   # the campaign's budget (USD) as opened, for the live page
# a stop asked for from elsewhere (`cogit-log runs stop`, the web's Stop): written on the
# campaign run by whoever asks; the running process reads it once a heartbeat (runtime/stop.py)
STOP_BY = "cogit.stop.by"          # who asked: the MLflow login, else the OS user
STOP_AT = "cogit.stop.at"          # when: epoch milliseconds
# what `on_stop=` / COGIT_ON_STOP ran when the campaign stopped on request (on the campaign run)
STOP_COMMAND = "cogit.stop.command"
STOP_COMMAND_STATUS = "cogit.stop.command.status"
STOP_COMMAND_OUTPUT = "cogit.stop.command.output"
# one process at a time on a campaign: each session that holds it is a param (params are
# write-once, so two processes cannot both log the same session), and the tag says which
# session let go of it last
SESSION_PREFIX = "cogit.session."
SESSION_RELEASED = "cogit.session.released"

# ---------------------------------------------------------------- decisions
DECISION_EXPERIMENT = "captains-log"
DECISION_NUMBER = "cogit.decision.number"
DECISION_TITLE = "cogit.decision.title"
DECISION_STATUS = "cogit.decision.status"
DECISION_STATUSES = ("proposed", "accepted", "superseded", "validated", "refuted")
DECISION_DATE = "cogit.decision.date"
DECISION_CHOSEN = "cogit.decision.chosen"
# last `cogit-log decision verify` summary, e.g. "2 pass, 1 pending, 2 manual"
DECISION_VERIFICATION = "cogit.decision.verification"
LINK_ROLES = ("context", "evidence", "validation", "supersedes")
LINK_PREFIX = "cogit.link."


def link_tag(uid: str) -> str:
    """Tag on a decision run naming a linked run by its uid; the value is the role."""
    return f"{LINK_PREFIX}{uid}"


# Where a link pointed when it was made: on the decision run, `cogit.pin.<uid> =
# <experiment_id>/<run_id>` of the run the linker resolved. A uid is only a claim (any writer
# can tag a run with any uid); a run id is the store's own, so links and `verify` count the
# pinned run only, and report any other run that carries the same uid.
PIN_PREFIX = "cogit.pin."


def pin_tag(uid: str) -> str:
    return f"{PIN_PREFIX}{uid}"


def decision_tag(number: int) -> str:
    """Tag on a linked run naming the decision; zero-padded so `cogit.decision.002` sorts."""
    return f"cogit.decision.{number:03d}"


# ---------------------------------------------------------------- predictions
# A plan or projection logged with `--log` is a run of kind `prediction` in this experiment,
# so `cogit-log report --accuracy` can hold it against the campaign that later ran it.
PREDICTION_EXPERIMENT = "cogit-predictions"
PREDICTION_SOURCE = "cogit.prediction.source"       # plan | projection | advice
PREDICTION_CAMPAIGN = "cogit.prediction.campaign"   # label of the campaign it projects from
PREDICTION_PHASES = "cogit.prediction.phases"       # phases it predicts, comma-separated
PREDICTED_DURATION_S = "predicted_duration_s"
PREDICTED_COST_USD = "predicted_cost_usd"
PREDICTED_PEAK_GB = "predicted_peak_gb"
_DECISION_TAG = re.compile(r"^cogit\.decision\.(\d+)$")


def linked_decisions(tags: Mapping[str, str]) -> dict[int, str]:
    """The decisions a run is linked to, number -> role, read from its `decision_tag`s."""
    found = ((_DECISION_TAG.match(key), role) for key, role in tags.items())
    return {int(m.group(1)): role for m, role in found if m}


# ---------------------------------------------------------------- sync
# bookkeeping on a copied run; never copied themselves, so a copy of a copy is judged by its
# own completeness, not its source's
SYNC_PREFIX = "cogit.sync."
SYNC_SOURCE = "cogit.sync.source"          # the source store's URI, credentials masked
SYNC_SOURCE_RUN = "cogit.sync.source_run_id"
SYNC_COMPLETE = "cogit.sync.complete"      # set last, once everything else is on the target

# ---------------------------------------------------------------- metrics
# every phase run ends with these
DURATION_S = "duration_s"
COST_USD = "cost_usd"
VRAM_PEAK_GB = "vram_peak_gb"
RAM_PEAK_GB = "ram_peak_gb"
# live while a phase reports `ph.progress(done, total)`, refreshed with the heartbeat
PROGRESS = "progress"                      # done / total, 0-1
ETA_S = "eta_s"                            # seconds left at the measured rate
PROJECTED_COST_USD = "projected_cost_usd"  # cost so far + rate x ETA
#: Every metric cogit logs on a phase itself; the rest of a phase's metrics are the
#: experiment's own, and with no headline declared they are what its reports show.
COGIT_METRICS = (DURATION_S, COST_USD, VRAM_PEAK_GB, RAM_PEAK_GB, PROGRESS, ETA_S,
                 PROJECTED_COST_USD)
#: What the projection reads to class a phase as token generation (memory-bound): the
#: throughput a phase that generates tokens logs, whatever else it logs.
TOKENS_PER_S = "tokens_per_s"
#: On a campaign run: the experiment's headline metrics and which direction is better, as
#: compact JSON in declaration order (`reports/headline.py`). A phase's last value of each is
#: repeated on its campaign run as it ends, bare and as `<phase>/<name>`, beside each
#: phase's `<phase>/duration_s`, `<phase>/cost_usd` and `<phase>/vram_peak_gb`: so
#: `mlflow ui`'s compare view lines campaigns up with no code.
HEADLINE = "cogit.headline"
PHASE_ROLLUPS = (DURATION_S, COST_USD, VRAM_PEAK_GB)
#: The generations table an intervene phase logs (`log_table`), one row per generation.
GENERATIONS_TABLE = "generations.json"
#: Campaign run params, from the campaign's own tags, so a campaign's configuration shows in
#: `mlflow ui`'s compare view and parallel-coordinates chart (the experiment adds its own).
CAMPAIGN_PARAMS = {"model": MODEL, "precision": PRECISION, "gpu.key": GPU_KEY,
                   "gpu.name": GPU_NAME, "gpu.count": GPU_COUNT, "provider": PROVIDER}
_NOT_IN_METRIC_NAME = re.compile(r"[^\w.\- ]")  # mlflow/utils/validation.py, less '/' and ':'


def metric_prefix(name: str) -> str:
    """`name` (a phase, which may hold any character) as one segment of a metric name that
    MLflow accepts: a name it refused would stop the writer's queue behind it."""
    cleaned = _NOT_IN_METRIC_NAME.sub("_", name).strip() or "_"
    return "_" if set(cleaned) == {"."} else cleaned


# ---------------------------------------------------------------- MLflow's names and limits
PARENT_RUN = "mlflow.parentRunId"   # mlflow.utils.mlflow_tags.MLFLOW_PARENT_RUN_ID
RUN_NAME = "mlflow.runName"
RUN_NOTE = "mlflow.note.content"    # the run's description in `mlflow ui`
#: The experiment tag from which `mlflow ui` (3.x) picks its view; cogit's experiments are
#: training runs, not GenAI traces. Values ending in `_inferred` are the UI's own guesses.
EXPERIMENT_KIND = "mlflow.experimentKind"
TRAINING_KIND = "custom_model_development"
INFERRED_KINDS = ("genai_development_inferred", "custom_model_development_inferred",
                  "no_inferred_type")
SYSTEM_METRICS_PREFIX = "system/"   # MLflow's own system metrics (its System metrics tab)


def is_cogit_metric(name: str) -> bool:
    """Whether a phase's metric is cogit's own (or MLflow's system metrics), not a result of
    the experiment's); one rank's own figures in a job (`rank1/vram_peak_gb`) are cogit's
    too."""
    head, _, rest = name.partition("/")
    if rest and head.startswith("rank") and head[4:].isdigit():
        name = rest
    return name in COGIT_METRICS or name.startswith(SYSTEM_METRICS_PREFIX)


#: `mlflow ui` 3.17.2 picks an experiment's view from a global "GenAI | Model training"
#: switch (default GenAI, kept in the browser), not from `mlflow.experimentKind`; a link that
#: carries this query opens the training view, as MLflow's own switch does.
UI_TRAINING_VIEW = "workflowType=machine_learning"


def mlflow_ui_path(experiment_id: str, run_id: str | None = None) -> str:
    """The `mlflow ui` page of an experiment (or of one of its runs), in its training view;
    relative to the UI's address."""
    run = f"/runs/{run_id}" if run_id else ""
    return f"/#/experiments/{experiment_id}{run}?{UI_TRAINING_VIEW}"


# What a store accepts (mlflow/utils/validation.py), checked when a value is logged so that one
# bad value is dropped alone instead of failing a whole batch at the store.
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100
MAX_KEY = 250               # metric, param and tag keys
MAX_RUN_NAME = 250          # a run's name: PostgreSQL's runs.name is VARCHAR(250), sqlite's is not
MAX_LABEL = 200             # a campaign label, leaving room for "<phase> · " in a phase's name
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
STEP_RANGE = (-(2**63), 2**63 - 1)  # a step is a 64-bit integer (the BIGINT column)
#: characters a key may hold (MLflow's POSIX rule); a key also must not normalise to another
#: path (`a//b`, `./a`, `..`, `/a`, empty)
KEY_CHARACTERS = r"^[/\w.\- :]*$"
KEY_CHARACTERS_SAID = "letters, digits, _ - . space / :"

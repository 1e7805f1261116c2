"""Tag and metric names from DESIGN.md, in one place.

Every module reads and writes these names through this file, so the contract that the
reports, the decision log and `mlflow ui` rely on cannot drift between modules.
"""
from __future__ import annotations

UID = "cogit.uid"            # UUID4, stable across stores; links use it, never run_id
KIND = "cogit.kind"          # campaign | phase | decision
KINDS = ("campaign", "phase", "decision")

CAMPAIGN = "cogit.campaign"
MODEL = "cogit.model"
PRECISION = "cogit.precision"
PRECISIONS = ("fp32", "fp16", "bf16", "int8", "int4")
PROVIDER = "cogit.provider"
PHASE = "cogit.phase"
PHASE_INDEX = "cogit.phase.index"
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

USD_PER_HOUR = "cogit.cost.usd_per_hour"
RATE_SOURCE = "cogit.cost.rate_source"
RATE_SOURCES = ("arg", "env", "config", "catalog", "unknown")

HEARTBEAT = "cogit.heartbeat"  # epoch milliseconds
FAILURE = "cogit.failure"
FAILURES = ("cuda_oom", "exception", "sigterm", "interrupted", "budget", "stale")
FAILURE_MESSAGE = "cogit.failure.message"

# decisions
DECISION_EXPERIMENT = "captains-log"
DECISION_NUMBER = "cogit.decision.number"
DECISION_TITLE = "cogit.decision.title"
DECISION_STATUS = "cogit.decision.status"
DECISION_STATUSES = ("proposed", "accepted", "superseded", "validated", "refuted")
DECISION_DATE = "cogit.decision.date"
DECISION_CHOSEN = "cogit.decision.chosen"
LINK_ROLES = ("context", "evidence", "validation", "supersedes")


def link_tag(uid: str) -> str:
    """Tag on a decision run naming a linked run by its uid; the value is the role."""
    return f"cogit.link.{uid}"


def decision_tag(number: int) -> str:
    """Tag on a linked run naming the decision; zero-padded so `cogit.decision.002` sorts."""
    return f"cogit.decision.{number:03d}"


# metrics every phase run ends with
DURATION_S = "duration_s"
COST_USD = "cost_usd"
VRAM_PEAK_GB = "vram_peak_gb"
RAM_PEAK_GB = "ram_peak_gb"

# sync (issue 6): bookkeeping on a copied run; never copied themselves, so a copy of a copy
# is judged by its own completeness, not its source's
SYNC_PREFIX = "cogit.sync."
SYNC_SOURCE = "cogit.sync.source"          # the source store's URI, credentials removed
SYNC_SOURCE_RUN = "cogit.sync.source_run_id"
SYNC_COMPLETE = "cogit.sync.complete"      # set last, once everything else is on the target

# decisions: last `cogit-log decision verify` summary, e.g. "2 pass, 1 pending, 2 manual"
DECISION_VERIFICATION = "cogit.decision.verification"

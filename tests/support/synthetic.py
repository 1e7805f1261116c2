"""Synthetic campaigns with the real tag and metric schema, for tests and benchmarks.

The machine that builds this project has no GPU, so reports, comparisons and projections are
exercised on campaigns written here through the ordinary MLflow client, shaped like the
reference experiment (encode, train, intervene, reverse) and tagged exactly as
`cogit_tracker.runtime.tracking` tags real runs.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from cogit_tracker import schema as s
from cogit_tracker.reports.headline import Spec, declare
from cogit_tracker.store.ops import ensure_experiment
from pipelines import EXPERIMENT

#: The reference experiment's headline, as it declares it.
REFERENCE_HEADLINE = EXPERIMENT.metrics
FIDELITY = "fidelity"   # the metric the train phase logs once an epoch


@dataclass
class PhaseSpec:
    name: str
    duration_s: float | None
    vram_peak_gb: float | None = None
    status: str = "FINISHED"
    fidelity: list[float] = field(default_factory=list)  # one point per epoch
    metrics: dict[str, float] = field(default_factory=dict)
    failure: str | None = None


@dataclass
class CampaignSpec:
    label: str
    phases: list[PhaseSpec]
    gpu_key: str = "rtx-5090"
    gpu_count: int = 1
    precision: str = "fp16"
    provider: str = "runpod"
    model: str = "Qwen/Qwen2.5-7B-Instruct"
    usd_per_hour: float | None = 0.89
    status: str = "FINISHED"
    start_ms: int = 1_763_000_000_000
    dtype_loaded: str | None = None  # e.g. "torch.float32" when "fp16" was asked for
    extra_tags: dict[str, str] = field(default_factory=dict)  # e.g. a CPU run's host speed
    headline: Spec = field(default_factory=lambda: dict(REFERENCE_HEADLINE))  # None: none


def reference_phases(speed: float = 1.0, fidelity: float = 0.989,
                     vram_gb: float = 17.5) -> list[PhaseSpec]:
    """The reference experiment's four phases; `speed` divides every duration."""
    curve = [round(fidelity - 0.3 / (epoch + 1), 4) for epoch in range(5)] + [fidelity]
    return [
        PhaseSpec("encode", 420 / speed, vram_gb),
        PhaseSpec("train", 1500 / speed, vram_gb + 2.8, fidelity=curve),
        PhaseSpec("intervene", 5400 / speed, vram_gb + 2.8,
                  metrics={"generations": 120, s.TOKENS_PER_S: 28.0 * speed}),
        PhaseSpec("reverse", 90 / speed, 0.2, metrics={"sentiment_shift": 0.41}),
    ]


def campaign_tags(spec: CampaignSpec) -> dict[str, str]:
    tags = {
        s.KIND: "campaign", s.UID: str(uuid.uuid4()), s.CAMPAIGN: spec.label,
        s.MODEL: spec.model, s.PRECISION: spec.precision, s.PROVIDER: spec.provider,
        s.GPU_KEY: spec.gpu_key, s.GPU_COUNT: str(spec.gpu_count),
    }
    if spec.usd_per_hour is not None:
        tags[s.USD_PER_HOUR] = str(spec.usd_per_hour)
    if spec.headline:
        tags[s.HEADLINE] = declare(spec.headline).tag()
    return {**tags, **spec.extra_tags}


def phase_tags(spec: CampaignSpec, phase: PhaseSpec, index: int, parent: str) -> dict[str, str]:
    tags = {
        **campaign_tags(spec), s.KIND: "phase", s.UID: str(uuid.uuid4()), s.PHASE: phase.name,
        s.PHASE_INDEX: str(index), s.PARENT_RUN: parent,
    }
    tags.pop(s.HEADLINE, None)  # the declaration is the campaign's alone
    if phase.failure:
        tags[s.FAILURE] = phase.failure
    if spec.dtype_loaded:
        tags[s.DTYPE_LOADED] = spec.dtype_loaded
    return tags


def phase_metrics(spec: CampaignSpec, phase: PhaseSpec) -> dict[str, float]:
    """Latest values; cost follows SkyPilot's rule, rate x uptime x GPUs."""
    out = dict(phase.metrics)
    if phase.duration_s is not None:
        out[s.DURATION_S] = phase.duration_s
        if spec.usd_per_hour is not None:
            out[s.COST_USD] = round(phase.duration_s / 3600 * spec.usd_per_hour
                                    * spec.gpu_count, 6)
    if phase.vram_peak_gb is not None:
        out[s.VRAM_PEAK_GB] = phase.vram_peak_gb
    if phase.fidelity:
        out[FIDELITY] = phase.fidelity[-1]
    return out


def make_campaign(client, experiment: str, spec: CampaignSpec) -> tuple[str, list[str]]:
    """Write one campaign and its phases through `client`; returns (campaign id, phase ids)."""
    from mlflow.entities import Metric

    exp_id = ensure_experiment(client, experiment)  # as cogit makes it: a training experiment
    t = spec.start_ms
    parent = client.create_run(exp_id, start_time=t, tags=campaign_tags(spec),
                               run_name=spec.label)
    pid = parent.info.run_id
    ids = []
    for index, phase in enumerate(spec.phases, start=1):
        run = client.create_run(exp_id, start_time=t, run_name=f"{spec.label}/{phase.name}",
                                tags=phase_tags(spec, phase, index, pid))
        rid = run.info.run_id
        latest = phase_metrics(spec, phase)
        points = [Metric(FIDELITY, v, t + i, i) for i, v in enumerate(phase.fidelity)]
        points += [Metric(k, v, t, 0) for k, v in latest.items() if k != FIDELITY]
        if points:
            client.log_batch(rid, metrics=points)
        t += int((phase.duration_s or 1) * 1000)
        if phase.status != "RUNNING":
            client.set_terminated(rid, phase.status, end_time=t)
        ids.append(rid)
    if spec.status != "RUNNING":
        client.set_terminated(pid, spec.status, end_time=t)
    return pid, ids

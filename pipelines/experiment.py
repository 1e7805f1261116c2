"""The cogit-qmech campaign: phases 1-4 as child runs of one campaign run.

`run_campaign` is what the experiment registered in `pipelines/__init__.py` runs, so
`cogit-log run` can start it without cogit_tracker importing this package. Every value is
checked before the campaign run exists; on `--resume`, finished phases are skipped (their
uids feed the later phases) and an unfinished one is reopened and continues from its last
checkpoint.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cogit_tracker as ct
from cogit_tracker.errors import BadInput
from cogit_tracker.runtime.tracking import check_label

from . import encode, intervene, models, reverse, train
from .config import (BLENDS, LR, MULTIPLIERS, PHASES, Config, check_shape, parse_blends,
                     parse_lr, parse_multipliers, parse_phases, parse_rank)
from .progress import reporting_to
from .prompts import read_prompts_file

EXPERIMENT = "cogit-qmech"
MODULES = {"encode": encode, "train": train, "intervene": intervene, "reverse": reverse}
NEEDS = {"train": ("encode",), "intervene": ("encode", "train"), "reverse": ("encode", "train")}


def _model_shape(source: str) -> tuple[int, int]:
    """(d_model, n_layers) from the model's config, before any weight is loaded."""
    from transformers import AutoConfig

    hub_log = logging.getLogger("huggingface_hub")
    level = hub_log.level
    hub_log.setLevel(logging.ERROR)  # an offline lookup is reported below, in one line
    try:
        cfg = AutoConfig.from_pretrained(source)
    except (OSError, ValueError):
        raise BadInput(models.unknown_model(source)) from None
    finally:
        hub_log.setLevel(level)
    return cfg.hidden_size, cfg.num_hidden_layers


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _print_oom_advice(cfg: Config, source: str) -> None:
    """The planner's way out of a CUDA OOM, when the planner is installed; never masks the OOM."""
    try:
        from cogit_tracker.planning import memory, plan_words

        plan = memory.plan(model=source, precision=cfg.precision, quantum_dim=cfg.quantum_dim,
                           operators=2)
        print(plan_words.oom_advice(plan), file=sys.stderr)
    except Exception:  # noqa: BLE001 - advice is a courtesy; the OOM itself propagates
        pass


def _resumed_settings(label: str, model: str | None, precision: str | None,
                      tracking_uri: str | None) -> tuple[str, str]:
    """The model and precision a resumed campaign ran with: phases 3-4 must use the model
    that made phase 1's activations. Given ones must agree."""
    from cogit_tracker import schema
    from cogit_tracker.runtime import liveness

    rows = [r for r in liveness.list_runs(tracking_uri, campaign=label) if r.kind == "campaign"]
    if not rows:
        raise BadInput(f"--resume {label!r}: no such campaign in {tracking_uri or 'the store'}; "
                       "`cogit-log runs list` shows the campaigns")
    tags = ct.find_run(rows[0].uid, tracking_uri).data.tags
    stored = (tags.get(schema.MODEL, "tiny"), tags.get(schema.PRECISION, "fp32"))
    for given, kept, flag in ((model, stored[0], "--model"), (precision, stored[1], "--precision")):
        if given is not None and given != kept:
            raise BadInput(f"{flag} {given!r}: campaign {label!r} ran with {kept!r}; resume it "
                           f"with the same value or leave {flag} out")
    return stored


def run_campaign(model: str | None = None, precision: str | None = None,
                 campaign: str | None = None,
                 phases: str = "1-4", layer: int | None = None, quantum_dim: int | None = None,
                 blend: str = BLENDS, multipliers: str = MULTIPLIERS,
                 operator_rank: int | None = None, lr: float = LR,
                 prompts: str | None = None,
                 usd_per_hour: float | None = None,
                 budget_usd: float | None = None, resume: str | None = None,
                 tracking_uri: str | None = None, wait: bool = False, device: str | None = None,
                 **overrides: Any) -> dict:
    """Run the chosen phases as one campaign; return {campaign, uid, phases: {name: results}}.
    `overrides` set other `Config` fields (tests use smaller prompt counts and epochs).
    Model and precision default to 'tiny' and fp32, or to what a resumed campaign used."""
    if resume:
        model, precision = _resumed_settings(resume, model, precision, tracking_uri)
    model, precision = model or "tiny", precision or "fp32"
    device = device or _default_device()
    models.check_precision(precision, device)
    numbers = parse_phases(phases)
    cfg = Config(model=model, precision=precision, layer=layer, quantum_dim=quantum_dim,
                 blends=parse_blends(blend), multipliers=parse_multipliers(multipliers),
                 lr=parse_lr(lr),
                 device=device, tracking_uri=tracking_uri, prompts_file=prompts,
                 prompts=read_prompts_file(prompts) if prompts else None,
                 **overrides)
    if resume and campaign and campaign != resume:
        raise BadInput(f"--campaign {campaign!r} and --resume {resume!r} disagree: give one label")
    default = f"{Path(model).name}-{precision}-{time.strftime('%Y%m%d-%H%M%S')}"
    label = check_label(resume or (default if campaign is None else campaign))
    names = [PHASES[n - 1] for n in numbers]
    if not resume:
        missing = sorted({need for n in names for need in NEEDS.get(n, ()) if need not in names})
        if missing:
            raise BadInput(f"--phases {phases!r}: {', '.join(missing)} must run too, or --resume "
                           "a campaign that already ran it")
    source = models.resolve_source(model)
    check_shape(cfg, *_model_shape(source))
    cfg.operator_rank = parse_rank(operator_rank, cfg.quantum_dim)

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # phases show theirs
    summary: dict[str, Any] = {"campaign": label, "model": model, "precision": precision,
                               "phases": {}}
    with tempfile.TemporaryDirectory(prefix="cogit-qmech-") as work:
        cfg.workdir = Path(work)
        params = {k: v for k, v in {
            "phases": phases, "layer": cfg.layer, "quantum_dim": cfg.quantum_dim, "blend": blend,
            "multipliers": multipliers, "operator_rank": cfg.operator_rank, "lr": cfg.lr,
            "epochs": cfg.epochs, "encode_prompts": cfg.encode_prompts,
            "eval_prompts": cfg.eval_prompts, "max_new_tokens": cfg.max_new_tokens,
            "prompts": cfg.prompts_file}.items() if v is not None}  # compared in mlflow ui
        with ct.campaign(label, experiment=EXPERIMENT, model=model, precision=precision,
                         usd_per_hour=usd_per_hour, budget_usd=budget_usd,
                         tracking_uri=tracking_uri, resume=bool(resume), wait=wait,
                         phases=names, params=params) as camp:
            summary["uid"] = camp.uid
            try:
                _run_phases(camp, cfg, names, summary)
            except Exception as exc:
                if type(exc).__name__ == "OutOfMemoryError":
                    _print_oom_advice(cfg, source)
                raise
    return summary


def _run_phases(camp, cfg: Config, names: list[str], summary: dict) -> None:
    for name in PHASES:
        done = camp.finished_phase(name) if camp.resumed else None
        if done:
            _remember(cfg, name, done)
            if name in names:
                summary["phases"][name] = "finished earlier"
            continue
        if name not in names:
            continue
        with camp.phase(name, index=PHASES.index(name) + 1) as ph, reporting_to(ph):
            summary["phases"][name] = MODULES[name].run(cfg, ph)
        _remember(cfg, name, ph.uid)


def _remember(cfg: Config, name: str, uid: str) -> None:
    if name == "encode":
        cfg.encode_uid = uid
    elif name == "train":
        cfg.train_uid = uid


def main() -> None:  # pragma: no cover - manual runs: python -m pipelines.experiment
    print(json.dumps(run_campaign(), indent=2, default=str))


if __name__ == "__main__":  # pragma: no cover
    main()

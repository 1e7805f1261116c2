"""`cogit-log plan`: will a model fit a GPU, for inference or a training step, with or
without quantum operators, and where do the operators go."""
from __future__ import annotations

import click

from ..planning import memory, plan_words, track
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
def plan_cmd(model, params, precision, quantum_dim, operators, train_operators, gpu, all_gpus,
             training, lora_rank, checkpointing, seq_len, batch, log_it, tracking_uri,
             as_json) -> None:
    """Predict GPU memory for a causal LM, for inference or one training step, plus any
    quantum operators, and where the operators go.

    \b
    Example:
        cogit-log plan --model smollm2-135m --training --seq-len 1024 --batch 8 --all
        cogit-log plan --model meta-llama/Llama-3.1-8B --precision int4 --training \\
            --lora-rank 16 --gradient-checkpointing --gpu rtx-5090
        cogit-log plan --model Qwen/Qwen2.5-7B-Instruct --precision fp32 \\
            --quantum-dim 9333 --operators 2 --gpu rtx-5090
        cogit-log plan --params 7.6B --precision fp16 --quantum-dim 9333 --all --json
        cogit-log plan --model Qwen/Qwen2.5-7B-Instruct --precision fp16 \\
            --quantum-dim 9333 --gpu h100-sxm --log
    """
    result = memory.plan_for_gpus(
        memory.plan(model=model, params=params, precision=precision, quantum_dim=quantum_dim,
                    operators=operators, training=training, seq_len=seq_len, batch=batch,
                    lora_rank=lora_rank, checkpointing=checkpointing,
                    train_operators=train_operators),
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
    table of every GPU asked for; the notes under the last."""
    rows = [{"item": i.label, "gb": f"{i.gb:.2f}", "note": i.note} for i in p.items]
    if p.arch is None:
        rows.append({"item": "KV cache, activations", "gb": "?",
                     "note": "need the architecture: pass --model"})
    rows.append({"item": "Total needed", "gb": f"{p.total_bytes / GB:.2f}", "_style": "bold"})
    if len(p.gpus) == 1:
        g = p.gpus[0]
        rows += [{"item": f"GPU available ({g.name})", "gb": f"{g.vram_bytes / GB:.2f}",
                  "note": g.key},
                 {"item": "Fits?", "gb": "yes" if g.fits else "NO", "note": _fit_note(g),
                  "_style": _fit_style(g)}]
        if p.operators:
            rows.append({"item": "Operators go on", "gb": g.operator_device,
                         "note": f"GPU then holds {g.gpu_bytes_placed / GB:.2f} GB"
                                 f" ({'fits' if g.fits_placed else 'still does not fit'})"})
    tables = [Table(plan_words.title(p),
                    [Column("item", "Item"), Column("gb", "GB"), Column("note", "Note")], rows)]
    if len(p.gpus) > 1:
        placement = ([Column("device", "Operators on"), Column("placed", "GPU then holds GB")]
                     if p.operators else [])
        tables.append(Table("Per GPU", [
            Column("gpu", "GPU"), Column("vram", "VRAM GB"), Column("fits", "Fits?"),
            Column("free", "Free after GB"), *placement], [_gpu_row(g) for g in p.gpus]))
    tables[-1].notes = plan_words.notes(p)
    return tables


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

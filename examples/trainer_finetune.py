"""Fine-tune a causal LM with transformers' Trainer inside a cogit campaign.

The Trainer is the one you already have, unchanged: `report_to=["mlflow"]` finds the open
phase as MLflow's active run, so its loss, grad norm and learning rate land in the phase run
beside the hardware, the cost and the budget. Two lines are cogit's: the campaign and the
phase around `trainer.train()`, and a callback that feeds `ph.progress` from the Trainer's own
step count, so `cogit-log runs watch` and `advise` know the ETA and the projected cost.

    python examples/trainer_finetune.py --campaign ft-001 --usd-per-hour 0.89 --budget-usd 1
    mlflow ui    # the campaign, its `train` phase, and the Trainer's curves in it

With no `--model`, it fine-tunes `tiny`, the small Qwen2 model this project builds offline
(trained once and cached on first use); give any local Hugging Face folder instead.
"""
from __future__ import annotations

import argparse
import tempfile

from transformers import (AutoModelForCausalLM, AutoTokenizer, DataCollatorForSeq2Seq,
                          Trainer, TrainerCallback, TrainingArguments)

import cogit_tracker as ct

SENTENCES = [
    "the film was wonderful and the music was lovely",
    "the service was terrible and the food was awful",
    "a delightful story with a brilliant cast",
    "a dreadful plot with a boring ending",
    "the staff were friendly and the room was great",
    "the screen was broken and the sound was horrible",
]


class Progress(TrainerCallback):
    """How far training has got, as cogit's progress of the phase."""

    def __init__(self, phase) -> None:
        self.phase = phase

    def on_step_end(self, args, state, control, **kwargs):
        self.phase.progress(state.global_step, state.max_steps)


def dataset(tokenizer, repeat: int = 8) -> list[dict]:
    rows = []
    for text in SENTENCES * repeat:
        ids = tokenizer(text)["input_ids"][:24]
        rows.append({"input_ids": ids, "labels": ids})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaign", default="trainer-finetune")
    parser.add_argument("--model", help="a local Hugging Face model folder (default: tiny)")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--usd-per-hour", type=float)
    parser.add_argument("--budget-usd", type=float)
    args = parser.parse_args()
    if args.model is None:
        from pipelines.tiny import ensure_tiny

        args.model = str(ensure_tiny())
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model)

    with ct.campaign(args.campaign, model=args.model, precision="fp32", phases=["train"],
                     headline={"train_loss": "min"},   # what report and compare put first
                     usd_per_hour=args.usd_per_hour, budget_usd=args.budget_usd) as camp:
        with camp.phase("train") as ph, tempfile.TemporaryDirectory() as out:
            training = TrainingArguments(
                output_dir=out, max_steps=args.steps, per_device_train_batch_size=4,
                learning_rate=1e-3, logging_steps=1, save_strategy="no", report_to=["mlflow"],
                use_cpu=True, disable_tqdm=True)
            trainer = Trainer(model=model, args=training, train_dataset=dataset(tokenizer),
                              data_collator=DataCollatorForSeq2Seq(tokenizer),
                              callbacks=[Progress(ph)])
            result = trainer.train()
    print(f"campaign {camp.label}: train loss {result.training_loss:.3f}, "
          f"run {ph.run_id}")


if __name__ == "__main__":
    main()

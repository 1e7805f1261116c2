"""The reference experiment in its own process, held halfway through one phase.

    python tests/support/qmech_worker.py STORE LABEL MODEL_DIR PRECISION GATE [--hold PHASE]

Runs the four phases on `MODEL_DIR` at small sizes (the plumbing sizes of the campaign tests)
with a rate of $3.60/h. When the phase named by --hold (default intervene) reports that half
of its steps are done, it writes `GATE.held` and waits until GATE exists, so a test can act
while the campaign is running mid-phase, on a loaded machine, without guessing a sleep.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from cogit_tracker.runtime import experiments, tracking
from pipelines import EXPERIMENT

SMALL = dict(encode_prompts=12, eval_prompts=2, epochs=6, checkpoint_every=3, blend=(0.5, 1.0),
             max_new_tokens=4)


def hold_at_half(phase: str, gate: Path) -> None:
    report = tracking.Phase.progress

    def progress(self, done, total):
        report(self, done, total)
        if self.name == phase and done * 2 >= total and not gate.exists():
            Path(f"{gate}.held").write_text(self.uid)
            while not gate.exists():
                time.sleep(0.1)

    tracking.Phase.progress = progress


def main() -> None:
    ap = argparse.ArgumentParser()
    for name in ("store", "label", "model", "precision", "gate"):
        ap.add_argument(name)
    ap.add_argument("--hold", default="intervene")
    args = ap.parse_args()
    hold_at_half(args.hold, Path(args.gate))
    experiments.run(EXPERIMENT, model=args.model, precision=args.precision, campaign=args.label,
                    tracking_uri=args.store, usd_per_hour=3.6, **SMALL)


if __name__ == "__main__":
    main()

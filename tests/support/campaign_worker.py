"""One experiment process for the load and fault tests: a campaign of N phases, each logging
P points of metric `x` (step i has value i) through cogit_tracker's public API.

    python tests/support/campaign_worker.py URL LABEL --phases 4 --points 1000
        [--pause S]           sleep S between points (stretches a phase so a fault lands in it)
        [--marker FILE --marker-at K]   touch FILE once step K of the first phase is logged
        [--hold S]            then stay inside the phase for S seconds (to be SIGKILLed there)
        [--progress]          report each point as progress (ph.progress(i + 1, P))
        [--gate FILE]         halfway through the first phase, wait until FILE exists
        [--usd-per-hour X]    the campaign's rate
        [--budget-usd Y]      the campaign's budget
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import cogit_tracker as ct


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("label")
    ap.add_argument("--experiment", default="load")
    ap.add_argument("--phases", type=int, default=4)
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--pause", type=float, default=0.0)
    ap.add_argument("--marker", type=Path)
    ap.add_argument("--marker-at", type=int, default=0)
    ap.add_argument("--hold", type=float, default=0.0)
    ap.add_argument("--progress", action="store_true")
    ap.add_argument("--gate", type=Path)
    ap.add_argument("--usd-per-hour", type=float, default=None)
    ap.add_argument("--budget-usd", type=float, default=None)
    args = ap.parse_args()
    with ct.campaign(args.label, experiment=args.experiment, tracking_uri=args.url,
                     usd_per_hour=args.usd_per_hour, budget_usd=args.budget_usd) as camp:
        for index in range(args.phases):
            with camp.phase(f"phase-{index}", index=index) as ph:
                for step in range(args.points):
                    ph.log_metrics({"x": float(step)}, step=step)
                    if args.progress:
                        ph.progress(step + 1, args.points)
                    if args.marker and index == 0 and step == args.marker_at:
                        ph.flush()
                        args.marker.write_text(ph.uid)
                    if args.pause:
                        time.sleep(args.pause)
                    if args.gate and index == 0 and step == args.points // 2:
                        while not args.gate.exists():
                            time.sleep(0.1)
                if index == 0 and args.hold:
                    time.sleep(args.hold)


if __name__ == "__main__":
    main()

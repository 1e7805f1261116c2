"""Phase 4: reversibility. U_neg->pos(U_pos->neg psi) should give psi back if the two
operators are inverse rotations; ||U^H U - I|| says how unitary the float operators are."""
from __future__ import annotations

from . import quantum, train
from .config import Config


def run(cfg: Config, ph) -> dict:
    states = train.states(cfg)
    ops = train.load_operators(cfg)
    pos, neg = states["pos_to_neg"]
    round_trip = ops["neg_to_pos"] @ ops["pos_to_neg"]   # applied right to left
    back_trip = ops["pos_to_neg"] @ ops["neg_to_pos"]
    results = {
        "round_trip_fidelity": quantum.fidelity(round_trip, pos, pos),
        "round_trip_fidelity_neg": quantum.fidelity(back_trip, neg, neg),
        "unitarity_error_pos_to_neg": quantum.unitarity_error(ops["pos_to_neg"]),
        "unitarity_error_neg_to_pos": quantum.unitarity_error(ops["neg_to_pos"]),
    }
    ph.log_metrics(results)
    return results

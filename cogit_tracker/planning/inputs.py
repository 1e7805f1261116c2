"""What a user types for the planner, as numbers: counts like `7.6B` and positive integers,
each refused in one line naming the value and the range accepted. The ranges are wide (a
quadrillion parameters, a quantum_dim of ten million) but finite: the planner multiplies
these numbers, and an absurd one must be named, not overflow."""
from __future__ import annotations

import re

from ..errors import BadInput

_SUFFIX = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9, "t": 10**12}
MAX_PARAMS = 10**15
#: the largest value each planner count takes
LIMITS = {"quantum_dim": 10**7, "operators": 10**4, "seq_len": 10**8, "batch": 10**6,
          "lora_rank": 10**5, "gpus": 4096}


def parse_params(value: str | int) -> int:
    """'7.6B', '124M', '7615616512' or 7.6e9 -> an integer parameter count."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kmbgt]?)\s*", str(value).lower())
    count = float(match.group(1)) * _SUFFIX[match.group(2)] if match else 0
    if not 1 <= count <= MAX_PARAMS:
        raise BadInput(f"bad parameter count {value!r}; accepted: a number from 1 to "
                       f"{MAX_PARAMS:.0e} such as 7.6B or 124M")
    return int(count)


def parse_positive_int(name: str, value: str | int | None) -> int:
    """A count the library takes as text or a number (the CLI passes text through)."""
    limit = LIMITS.get(name, 10**9)
    if value is None:
        raise BadInput(f"{name} is required: a whole number from 1 to {limit:,}")
    try:
        number = int(str(value).strip())
    except ValueError:
        number = 0
    if not 1 <= number <= limit:
        raise BadInput(f"{name} {value!r} is not accepted: a whole number from 1 to {limit:,}")
    return number

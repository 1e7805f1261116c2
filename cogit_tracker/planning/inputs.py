"""What a user types for the planner, as numbers: counts like `7.6B` and positive integers,
each refused in one line naming the value."""
from __future__ import annotations

import re

from ..errors import BadInput

_SUFFIX = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9, "t": 10**12}


def parse_params(value: str | int) -> int:
    """'7.6B', '124M', '7615616512' or 7.6e9 -> an integer parameter count."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kmbgt]?)\s*", str(value).lower())
    count = float(match.group(1)) * _SUFFIX[match.group(2)] if match else 0
    if count < 1:
        raise BadInput(f"bad parameter count {value!r}; give a positive number such as 7.6B or 124M")
    return int(count)


def parse_positive_int(name: str, value: str | int | None) -> int:
    """A count the library takes as text or a number (the CLI passes text through)."""
    if value is None:
        raise BadInput(f"{name} is required: a positive integer")
    try:
        number = int(str(value).strip())
    except ValueError:
        number = 0
    if number <= 0:
        raise BadInput(f"{name} must be a positive integer, got {value!r}")
    return number

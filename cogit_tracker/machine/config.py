"""The user's `cogit.toml`: their hourly rate, provider, price overrides and extra GPUs.

Found through `COGIT_CONFIG` (a path), else `./cogit.toml`; having neither is normal and gives
an empty config. The file is small and read on demand, so an edit takes effect on the next
run without any cache to invalidate. Format:

    usd_per_hour = 0.89          # per GPU; wins over the catalog price
    provider = "runpod"
    [prices]                     # per-GPU $/h by catalog key
    h100-sxm = 2.49
    [gpus.h100-nvl]              # a GPU the catalog lacks (same fields as data/gpus.toml)
    name = "NVIDIA H100 NVL"
    nvml_names = ["NVIDIA H100 NVL"]
    vram_gb = 94
    bandwidth_gbs = 3900
    fp16_tflops = {value = 835, source = "NVIDIA H100 NVL datasheet", date = "2023"}
    usd_per_hour = 3.20

A malformed file is the user's bad input: `BadInput` naming the file, the line where we can
find it, and the value, so a typo never silently prices a run at the catalog rate.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BadInput

try:
    import tomllib  # novm (Python 3.11+; the fallback below serves 3.10)
except ModuleNotFoundError:  # Python 3.10: the same parser as a package (setup.cfg pulls it in)
    import tomli as tomllib

ENV_VAR = "COGIT_CONFIG"
FILE_NAME = "cogit.toml"
TOP_LEVEL_KEYS = ("usd_per_hour", "provider", "prices", "gpus")


@dataclass(frozen=True)
class UserConfig:
    """What `cogit.toml` says; `gpus` keeps each table raw for the catalog to parse."""

    path: Path | None = None
    usd_per_hour: float | None = None
    provider: str | None = None
    prices: dict[str, float] = field(default_factory=dict, hash=False)
    gpus: dict[str, dict[str, Any]] = field(default_factory=dict, hash=False)

    def where(self, key: str | None = None, section: str | None = None) -> str:
        """`cogit.toml` (or its path), with the line that sets `key` (inside the table
        `section`, e.g. "gpus.t4", when given) where we can find it."""
        label = str(self.path) if self.path else FILE_NAME
        line = _line_of(self.path, key, section) if (self.path and key) else None
        return f"{label}, line {line}" if line else label

    def sets_price(self, gpu_key: str) -> bool:
        """Whether the catalog price for `gpu_key` is the user's own (`[prices]` or `[gpus.*]`),
        so the rate's source can say `config` rather than `catalog`."""
        return gpu_key in self.prices or "usd_per_hour" in self.gpus.get(gpu_key, {})


def config_path(explicit: Path | str | None = None) -> Path | None:
    """The file to read: explicit, `$COGIT_CONFIG`, else `./cogit.toml` if it exists."""
    if explicit is not None:
        return _must_exist(Path(explicit), "config file")
    if os.environ.get(ENV_VAR):
        return _must_exist(Path(os.environ[ENV_VAR]), ENV_VAR)
    local = Path(FILE_NAME)
    return local if local.is_file() else None


def load_config(explicit: Path | str | None = None) -> UserConfig:
    """Read and check the user's config; no file at all gives an empty `UserConfig`."""
    path = config_path(explicit)
    if path is None:
        return UserConfig()
    try:
        data = parse_toml(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{path}: not valid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot be read ({exc})") from None
    return _check(path, data)


def parse_toml(text: str) -> dict[str, Any]:
    """TOML text as a dict; raises `tomllib.TOMLDecodeError` (the catalog's file, and ours)."""
    return tomllib.loads(text)


def _check(path: Path, data: dict[str, Any]) -> UserConfig:
    blank = UserConfig(path=path)
    unknown = sorted(set(data) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise BadInput(
            f"{blank.where(unknown[0])}: unknown setting {unknown[0]!r}; "
            f"accepted: {', '.join(TOP_LEVEL_KEYS)}"
        )
    rate = data.get("usd_per_hour")
    provider = data.get("provider")
    if provider is not None and not isinstance(provider, str):
        raise BadInput(f"{blank.where('provider')}: provider = {provider!r} must be a string")
    prices = data.get("prices", {})
    gpus = data.get("gpus", {})
    for name, table in (("prices", prices), ("gpus", gpus)):
        if not isinstance(table, dict):
            raise BadInput(f"{blank.where(name)}: {name} must be a table, like [{name}]")
    for key, table in gpus.items():
        if not isinstance(table, dict):
            raise BadInput(f"{blank.where(key)}: gpus.{key} must be a table, like [gpus.{key}]")
    return UserConfig(
        path=path,
        usd_per_hour=None if rate is None else rate_value(rate, blank.where("usd_per_hour")),
        provider=provider,
        prices={k: rate_value(v, f"{blank.where(k, 'prices')}: prices.{k}") for k, v in prices.items()},
        gpus=gpus,
    )


def rate_value(value: Any, what: str, unit: str = "USD per hour") -> float:
    """A figure as a float: a finite number >= 0. Text like "0.89" is accepted too, since
    environment variables and CLI options arrive as text."""
    if isinstance(value, bool):
        number = math.nan
    else:
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
    if not math.isfinite(number) or number < 0:
        raise BadInput(f"{what}: {value!r} is not accepted; give a number >= 0 ({unit})")
    return number


def _must_exist(path: Path, what: str) -> Path:
    if not path.is_file():
        raise BadInput(f"{what} {str(path)!r} is not a file; point it at a cogit.toml")
    return path


def _line_of(path: Path, key: str, section: str | None = None) -> int | None:
    """First line assigning `key` (`key =`, or a `[...key]` header), only inside the table
    `section` when given; for error messages, so a plain scan is enough."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    assign = re.compile(rf'^\s*"?{re.escape(key)}"?\s*=')
    header = re.compile(r"^\s*\[+\s*([^\]]*?)\s*\]")
    current = None
    for number, line in enumerate(lines, start=1):
        found = header.match(line)
        if found:
            current = found.group(1)
            if section is None and current.split(".")[-1] == key:
                return number
        elif assign.match(line) and section in (None, current):
            return number
    return None

"""The GPU catalog: specs and a typical per-GPU $/h for the GPUs researchers rent, each figure
with its source and date (`data/gpus.toml`), merged with the user's `cogit.toml`.

Keys are short slugs (`h100-sxm`, `rtx-5090`) because they go into tags and reports, where the
long marketing name would differ between driver versions. NVML names map to keys through each
entry's `nvml_names`; a GPU the catalog lacks keeps a visible `unknown:<slug>` key rather than
being guessed into the nearest known card, and no GPU at all is `none`.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .. import schema
from ..errors import BadInput
from .config import UserConfig, load_config, parse_toml, rate_value

UNKNOWN_PREFIX = "unknown:"
_UNITS = {
    "vram_gb": "GB",
    "bandwidth_gbs": "GB/s",
    "fp16_tflops": "dense TFLOPS",
    "usd_per_hour": "USD per hour per GPU",
}
FIGURES = tuple(_UNITS)
FIELDS = ("name", "nvml_names", *FIGURES)
_VENDOR_PREFIXES = ("nvidia ", "geforce ", "tesla ")
_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


@dataclass(frozen=True)
class GpuSpec:
    """One GPU model (or, for projections, a GPU-less host with no price). `usd_per_hour` is
    per GPU; `sources` maps each figure to "source, date"."""

    key: str
    name: str
    vram_gb: float
    bandwidth_gbs: float
    fp16_tflops: float
    usd_per_hour: float | None
    nvml_names: tuple[str, ...] = ()
    sources: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            **{figure: getattr(self, figure) for figure in FIGURES},
            "nvml_names": list(self.nvml_names),
            "sources": dict(self.sources),
        }


def load(config: Path | str | UserConfig | None = None) -> dict[str, GpuSpec]:
    """The built-in catalog with the user's `cogit.toml` applied: `[gpus.<key>]` adds a GPU or
    overrides some of an existing one's figures, `[prices]` overrides prices."""
    user = config if isinstance(config, UserConfig) else load_config(config)
    tables = {key: dict(table) for key, table in _builtin().items()}
    where = user.where()
    for key, table in user.gpus.items():
        if not _KEY_RE.match(key):
            raise BadInput(
                f"{user.where(key)}: GPU key {key!r} is not accepted; use lowercase letters, "
                "digits, '-', '.', '_' (like h100-nvl)"
            )
        unknown = sorted(set(table) - set(FIELDS))
        if unknown:
            raise BadInput(
                f"{user.where(unknown[0], f'gpus.{key}')}: gpus.{key}.{unknown[0]} is not a GPU "
                f"field; accepted: {', '.join(FIELDS)}"
            )
        tables[key] = {**tables.get(key, {}), **_with_source(table, where)}
    for key, price in user.prices.items():
        if key not in tables:
            raise BadInput(
                f"{user.where(key, 'prices')}: prices.{key}: unknown GPU key {key!r}; accepted: "
                f"{', '.join(sorted(tables))} (add it under [gpus.{key}] first)"
            )
        tables[key]["usd_per_hour"] = {"value": price, "source": where, "date": ""}
    return {key: _spec(key, table, user) for key, table in tables.items()}


def get(key: str, config: Path | str | UserConfig | None = None) -> GpuSpec:
    """One GPU by key; an unknown key is the user's bad input and lists the accepted ones."""
    catalog = load(config)
    if key not in catalog:
        raise BadInput(f"unknown GPU key {key!r}; accepted: {', '.join(sorted(catalog))}")
    return catalog[key]


def key_for_name(nvml_name: str | None, config: Path | str | UserConfig | None = None) -> str:
    """The catalog key for a name as NVML reports it: `none` for no GPU, `unknown:<slug>` for
    a GPU the catalog (with the user's additions) does not list."""
    if not nvml_name or not nvml_name.strip():
        return schema.NO_GPU
    wanted = _normalize(nvml_name)
    catalog = load(config)
    for spec in catalog.values():
        if wanted in {_normalize(name) for name in spec.nvml_names}:
            return spec.key
    slug = _slug(wanted)
    return slug if slug in catalog else UNKNOWN_PREFIX + slug


@functools.cache
def _builtin() -> dict[str, dict[str, Any]]:
    """Parsed once per process; callers copy the tables they change."""
    text = resources.files(__package__).joinpath("data", "gpus.toml").read_text(encoding="utf-8")
    return parse_toml(text)


def _with_source(table: dict[str, Any], where: str) -> dict[str, Any]:
    """A user's plain number becomes a figure whose source is their config file."""
    return {
        name: {"value": value, "source": where, "date": ""}
        if name in FIGURES and not isinstance(value, dict)
        else value
        for name, value in table.items()
    }


def _spec(key: str, table: dict[str, Any], user: UserConfig) -> GpuSpec:
    where = user.where(key)
    missing = [figure for figure in FIGURES if figure not in table]
    if missing:
        raise BadInput(
            f"{where}: GPU {key!r} lacks {', '.join(missing)}; a new GPU needs all of "
            f"{', '.join(FIGURES)}"
        )
    values, sources = {}, {}
    for figure in FIGURES:
        entry = table[figure]
        at = f"{user.where(figure, section=f'gpus.{key}')}: {key}.{figure}"
        if not isinstance(entry, dict) or "value" not in entry:
            raise BadInput(f"{at} = {entry!r}; give a number or {{value = ..., source = ...}}")
        values[figure] = rate_value(entry["value"], at, _UNITS[figure])
        if figure != "usd_per_hour" and values[figure] == 0:  # projections divide by these
            raise BadInput(f"{at} = 0 is not accepted; give a number > 0 ({_UNITS[figure]})")
        sources[figure] = ", ".join(str(p) for p in (entry.get("source"), entry.get("date")) if p)
    names = table.get("nvml_names", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise BadInput(f"{user.where('nvml_names', f'gpus.{key}')}: {key}.nvml_names = {names!r}; give a list of strings")
    return GpuSpec(
        key=key,
        name=str(table.get("name", key)),
        nvml_names=tuple(names),
        sources=sources,
        **values,
    )


def _normalize(name: str) -> str:
    """Lowercase without vendor prefixes: drivers report `A100-SXM4-40GB` or
    `NVIDIA A100-SXM4-40GB`, `Tesla T4` or `NVIDIA T4` for the same card."""
    text = " ".join(name.lower().split())
    stripped = True
    while stripped:
        stripped = False
        for prefix in _VENDOR_PREFIXES:
            if text.startswith(prefix):
                text, stripped = text[len(prefix):], True
    return text


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "gpu"

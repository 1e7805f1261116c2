"""The GPU catalog (data/gpus.toml) and the user's cogit.toml on top of it."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from cogit_tracker.machine import catalog
from cogit_tracker.machine.config import load_config
from cogit_tracker.errors import BadInput

REPO = Path(__file__).resolve().parents[1]
REQUIRED = {"rtx-5090", "rtx-4090", "a100-40gb", "a100-80gb", "h100-sxm", "h100-pcie", "h200",
            "l40s", "a10g", "t4"}


def write(folder: Path, text: str) -> Path:
    path = folder / "cogit.toml"
    path.write_text(text)
    return path


def test_catalog_has_every_required_gpu_with_sourced_figures(cogit_env):
    specs = catalog.load()
    assert set(specs) == REQUIRED
    for spec in specs.values():
        assert set(spec.sources) == set(catalog.FIGURES), spec.key
        for figure, source in spec.sources.items():
            assert source.strip(), f"{spec.key}.{figure} has no source"
        assert spec.nvml_names, spec.key
        assert spec.vram_gb > 0 and spec.bandwidth_gbs > 0 and spec.fp16_tflops > 0
        assert spec.usd_per_hour > 0


def test_every_builtin_figure_is_dated():
    raw = tomllib.loads(resources.files("cogit_tracker.machine.data").joinpath("gpus.toml").read_text())
    for key, table in raw.items():
        for figure in catalog.FIGURES:
            assert table[figure]["date"][:4].isdigit(), f"{key}.{figure} has no date"


def test_figures_are_dense_not_sparse(cogit_env):
    """The datasheets' headline tensor figures (1979 for H100 SXM) are with sparsity."""
    specs = catalog.load()
    assert specs["h100-sxm"].fp16_tflops == 989
    assert specs["h100-pcie"].fp16_tflops == 756
    assert specs["a100-80gb"].fp16_tflops == 312
    assert specs["h200"].vram_gb == 141
    assert specs["rtx-5090"].usd_per_hour == 0.89  # the researcher's own RunPod rate


def test_nvml_names_are_unique_across_the_catalog(cogit_env):
    owners = {}
    for spec in catalog.load().values():
        for name in spec.nvml_names:
            assert owners.setdefault(catalog._normalize(name), spec.key) == spec.key, name


def test_get_unknown_key_lists_accepted_keys(cogit_env):
    with pytest.raises(BadInput) as info:
        catalog.get("h100")
    message = str(info.value)
    assert "'h100'" in message and "h100-sxm" in message and "t4" in message
    assert "\n" not in message


def test_key_for_name_without_gpu_is_none(cogit_env):
    assert catalog.key_for_name(None) == "none"
    assert catalog.key_for_name("  ") == "none"


def test_key_for_unknown_name_is_a_visible_slug(cogit_env):
    assert catalog.key_for_name("NVIDIA B200") == "unknown:b200"
    assert catalog.key_for_name("NVIDIA RTX PRO 6000 Blackwell") == "unknown:rtx-pro-6000-blackwell"


def test_user_config_overrides_a_price_and_adds_a_gpu(cogit_env):
    write(cogit_env, """
provider = "runpod"
[prices]
h100-sxm = 1.5
[gpus.h100-nvl]
name = "NVIDIA H100 NVL"
nvml_names = ["NVIDIA H100 NVL"]
vram_gb = 94
bandwidth_gbs = 3900
fp16_tflops = {value = 835, source = "NVIDIA H100 NVL datasheet", date = "2023"}
usd_per_hour = 3.2
[gpus.t4]
usd_per_hour = 0.35
""")
    specs = catalog.load()
    assert specs["h100-sxm"].usd_per_hour == 1.5
    assert "cogit.toml" in specs["h100-sxm"].sources["usd_per_hour"]
    assert specs["h100-sxm"].vram_gb == 80  # the rest of the built-in entry is kept
    nvl = specs["h100-nvl"]
    assert (nvl.vram_gb, nvl.fp16_tflops, nvl.usd_per_hour) == (94, 835, 3.2)
    assert nvl.sources["fp16_tflops"] == "NVIDIA H100 NVL datasheet, 2023"
    assert "cogit.toml" in nvl.sources["vram_gb"]
    assert specs["t4"].usd_per_hour == 0.35 and specs["t4"].vram_gb == 16
    assert catalog.key_for_name("NVIDIA H100 NVL") == "h100-nvl"
    assert catalog.get("h100-nvl").name == "NVIDIA H100 NVL"
    assert load_config().provider == "runpod"


def test_config_found_through_env_var(cogit_env, monkeypatch, tmp_path_factory):
    elsewhere = write(tmp_path_factory.mktemp("cfg"), "[prices]\nl40s = 0.5\n")
    monkeypatch.setenv("COGIT_CONFIG", str(elsewhere))
    assert catalog.get("l40s").usd_per_hour == 0.5
    assert str(elsewhere) in catalog.get("l40s").sources["usd_per_hour"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("usd_per_hour = = 1\n", ["not valid TOML", "line 1"]),
        ('usd_per_hour = "cheap"\n', ["line 1", "'cheap'", "number >= 0"]),
        ("provider = 'runpod'\nusd_per_hour = -0.5\n", ["line 2", "-0.5"]),
        ("[prices]\nh100 = 2.0\n", ["line 2", "'h100'", "h100-sxm"]),
        ("[prices]\nt4 = -1\n", ["line 2", "-1"]),
        ("[gpus.b200]\nvram_gb = 192\n", ["line 1", "'b200'", "bandwidth_gbs"]),
        ("[gpus.t4]\nvram_gb = 'big'\n", ["line 2", "'big'"]),
        ("[gpus.B200]\nvram_gb = 1\n", ["'B200'", "lowercase"]),
        ("usd_per_hr = 1\n", ["line 1", "'usd_per_hr'", "usd_per_hour"]),
        ("[gpus.t4]\nname = 'T4'\nvram = 16\n", ["line 3", "gpus.t4.vram", "vram_gb"]),
        ("[gpus.h100-sxm]\nbandwidth_gbs = 0\n", ["line 2", "bandwidth_gbs = 0", "> 0"]),
    ],
)
def test_bad_cogit_toml_names_file_line_and_value(cogit_env, text, expected):
    path = write(cogit_env, text)
    with pytest.raises(BadInput) as info:
        catalog.load()
    message = str(info.value)
    assert "\n" not in message
    assert "cogit.toml" in message
    for part in expected:
        assert part in message, (part, message)
    assert path.exists()


def test_missing_config_named_by_env_var_is_bad_input(cogit_env, monkeypatch):
    monkeypatch.setenv("COGIT_CONFIG", str(cogit_env / "nope.toml"))
    with pytest.raises(BadInput, match="COGIT_CONFIG.*nope.toml"):
        catalog.load()


def run_cli(*args: str, cwd: Path, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("COGIT_")}
    env.update(PYTHONPATH=str(REPO), **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "cogit_tracker.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_cli_gpus_lists_catalog_with_sources(cogit_env):
    import json

    done = run_cli("gpus", "--json", cwd=cogit_env)
    assert done.returncode == 0, done.stderr
    rows = {row["key"]: row for row in json.loads(done.stdout)}
    assert set(rows) == REQUIRED
    assert rows["h100-sxm"]["sources"]["fp16_tflops"].endswith("2023")
    table = run_cli("gpus", cwd=cogit_env)
    assert table.returncode == 0 and "h100-pcie" in table.stdout


def test_cli_gpus_unknown_key_is_one_line_exit_2(cogit_env):
    done = run_cli("gpus", "h100", cwd=cogit_env)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "'h100'" in lines[0] and "h100-sxm" in lines[0]
    assert "Traceback" not in done.stderr


def test_cli_bad_cogit_toml_is_one_line_exit_2(cogit_env):
    write(cogit_env, "[prices]\nh100-sxm = 'two dollars'\n")
    for args in (["gpus"], ["hardware"]):
        done = run_cli(*args, cwd=cogit_env)
        assert done.returncode == 2, args
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "'two dollars'" in lines[0] and "line 2" in lines[0], lines

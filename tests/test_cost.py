"""Rate resolution (arg > env > cogit.toml > catalog > unknown), cost, and the budget guard.

Where a GPU is needed, the GPU key is passed or pynvml is faked (`fake_nvml`): this machine
has no NVIDIA GPU.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from conftest import FakeGpu

from cogit_tracker import schema
from cogit_tracker.machine.cost import BudgetGuard, Rate, cost_usd, resolve_rate
from cogit_tracker.errors import BadInput

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def every_source(cogit_env, monkeypatch):
    """All four sources set at once, each to a different rate."""
    monkeypatch.setenv("COGIT_USD_PER_HOUR", "2.5")
    (cogit_env / "cogit.toml").write_text("usd_per_hour = 1.25\n")
    return monkeypatch


def test_argument_wins_over_everything(every_source):
    assert resolve_rate(0.89, gpu_key="h100-sxm") == Rate(0.89, "arg")
    assert resolve_rate("0.89", gpu_key="h100-sxm") == Rate(0.89, "arg")


def test_zero_is_a_valid_argument(every_source):
    assert resolve_rate(0, gpu_key="h100-sxm") == Rate(0.0, "arg")


def test_env_wins_over_config_and_catalog(every_source):
    assert resolve_rate(gpu_key="h100-sxm") == Rate(2.5, "env")


def test_config_wins_over_catalog(every_source):
    every_source.delenv("COGIT_USD_PER_HOUR")
    assert resolve_rate(gpu_key="h100-sxm") == Rate(1.25, "config")


def test_catalog_price_for_the_gpu(cogit_env):
    assert resolve_rate(gpu_key="h100-sxm") == Rate(2.69, "catalog")
    assert resolve_rate(gpu_key="rtx-5090") == Rate(0.89, "catalog")


def test_config_price_override_is_reported_as_config(cogit_env):
    (cogit_env / "cogit.toml").write_text("[prices]\nh100-sxm = 1.5\n")
    assert resolve_rate(gpu_key="h100-sxm") == Rate(1.5, "config")
    assert resolve_rate(gpu_key="t4") == Rate(0.59, "catalog")


def test_detected_gpu_is_used_when_no_key_is_given(fake_nvml):
    """pynvml faked (no GPU here): a detected H100 PCIe gets its catalog price."""
    fake_nvml([FakeGpu("NVIDIA H100 PCIe")])
    assert resolve_rate() == Rate(2.86, "catalog")


@pytest.mark.parametrize("key", ["none", "unknown:b200", "h100-sxm+t4"])
def test_unknown_rate_is_zero_with_a_warning(cogit_env, key):
    with pytest.warns(UserWarning, match="no hourly rate"):
        rate = resolve_rate(gpu_key=key)
    assert rate == Rate(0.0, "unknown")
    assert rate.tags() == {schema.USD_PER_HOUR: "0", schema.RATE_SOURCE: "unknown"}


def test_unknown_rate_warning_can_be_left_to_the_tag(cogit_env, recwarn):
    assert resolve_rate(gpu_key="none", warn=False) == Rate(0.0, "unknown")
    assert len(recwarn) == 0


def test_sources_are_the_design_values(every_source):
    seen = {resolve_rate(1, gpu_key="t4").source, resolve_rate(gpu_key="t4").source}
    every_source.delenv("COGIT_USD_PER_HOUR")
    seen.add(resolve_rate(gpu_key="t4").source)
    (Path.cwd() / "cogit.toml").unlink()
    seen.add(resolve_rate(gpu_key="t4").source)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seen.add(resolve_rate(gpu_key="none").source)
    assert seen == set(schema.RATE_SOURCES)


@pytest.mark.parametrize("bad", [-1, "-0.5", "abc", "", float("nan"), float("inf"), True, [1]])
def test_bad_argument_is_bad_input_naming_it(cogit_env, bad):
    with pytest.raises(BadInput) as info:
        resolve_rate(bad, gpu_key="t4")
    assert repr(bad) in str(info.value) and "usd_per_hour" in str(info.value)


@pytest.mark.parametrize("bad", ["-2", "two", "nan"])
def test_bad_env_is_bad_input_naming_the_variable(cogit_env, monkeypatch, bad):
    monkeypatch.setenv("COGIT_USD_PER_HOUR", bad)
    with pytest.raises(BadInput) as info:
        resolve_rate(gpu_key="t4")
    assert "COGIT_USD_PER_HOUR" in str(info.value) and repr(bad) in str(info.value)


def test_a_given_argument_does_not_read_a_broken_config(cogit_env):
    (cogit_env / "cogit.toml").write_text("usd_per_hour = [\n")
    assert resolve_rate(0.89) == Rate(0.89, "arg")
    with pytest.raises(BadInput, match="not valid TOML"):
        resolve_rate(gpu_key="t4")


def test_cost_is_hours_times_rate_times_gpus():
    assert cost_usd(3600, Rate(0.89, "arg"), 1) == pytest.approx(0.89)
    assert cost_usd(2 * 3600, Rate(0.89, "arg"), 1) == pytest.approx(1.78)  # the log's $1.78
    assert cost_usd(1800, Rate(2.69, "catalog"), 8) == pytest.approx(2.69 * 4)
    assert cost_usd(3600, 1.5, 0) == pytest.approx(1.5)  # CPU-only counts once
    assert cost_usd(0, 3.0, 4) == 0


def test_budget_warns_once_at_80_percent_then_stops_at_100():
    guard = BudgetGuard(10)
    verdicts = [guard.check(spent) for spent in (0, 5, 7.99, 8.0, 8.5, 9.99, 10.0, 12)]
    assert verdicts == ["ok", "ok", "ok", "warn", "ok", "ok", "stop", "stop"]


def test_budget_jumping_past_100_stops_at_once():
    assert BudgetGuard("2.0").check(5) == "stop"


@pytest.mark.parametrize("bad", [0, -1, "abc", None, float("nan")])
def test_bad_budget_is_bad_input(bad):
    with pytest.raises(BadInput, match="budget_usd"):
        BudgetGuard(bad)


def run_cli(*args: str, cwd: Path, **env_extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COGIT_")}
    env.update(PYTHONPATH=str(REPO), **env_extra)
    return subprocess.run([sys.executable, "-m", "cogit_tracker.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_cli_hardware_reports_rate_and_source(cogit_env):
    done = run_cli("hardware", "--json", "--usd-per-hour", "0.89", cwd=cogit_env)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["rate"] == {"usd_per_hour": 0.89, "source": "arg"}
    assert data["tags"][schema.RATE_SOURCE] == "arg"
    assert data["tags"][schema.GPU_KEY] == "none"
    by_env = run_cli("hardware", "--json", cwd=cogit_env, COGIT_USD_PER_HOUR="1.5")
    assert json.loads(by_env.stdout)["rate"] == {"usd_per_hour": 1.5, "source": "env"}
    table = run_cli("hardware", cwd=cogit_env, COGIT_USD_PER_HOUR="1.5")
    assert table.returncode == 0 and schema.RATE_SOURCE in table.stdout and "env" in table.stdout


def test_cli_hardware_without_a_rate_warns_in_one_line(cogit_env):
    """No GPU here and no rate set: the rate is unknown, said once, and the command works."""
    done = run_cli("hardware", "--json", cwd=cogit_env)
    assert done.returncode == 0
    assert json.loads(done.stdout)["rate"] == {"usd_per_hour": 0.0, "source": "unknown"}
    assert done.stderr.strip().splitlines() == [
        "Warning: no hourly rate for GPU 'none': cost is recorded as 0; set usd_per_hour=, "
        "COGIT_USD_PER_HOUR or usd_per_hour in cogit.toml"
    ]


@pytest.mark.parametrize(
    "args, env, named",
    [
        (["--usd-per-hour", "abc"], {}, "'abc'"),
        (["--usd-per-hour", "-1"], {}, "'-1'"),
        ([], {"COGIT_USD_PER_HOUR": "-3"}, "COGIT_USD_PER_HOUR"),
    ],
)
def test_cli_bad_rate_is_one_line_exit_2(cogit_env, args, env, named):
    done = run_cli("hardware", *args, cwd=cogit_env, **env)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and named in lines[0], lines

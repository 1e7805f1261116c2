"""The planner, `project` and `advise` on N GPUs (issue 16, item 6): the log's "70B FP16 =
~140GB, won't fit on H100" as a test, each GPU's share under tensor and pipeline parallel held
against the architecture's own counts, and N x GPU options priced at N x the rate. Figures
are derived from the architecture and the catalog here, never typed in."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cogit_tracker.cli import cli
from cogit_tracker.errors import BadInput
from cogit_tracker.machine import catalog
from cogit_tracker.planning import architectures, memory
from support import synthetic as sy
from support.cli_checks import one_line_error

LLAMA_70B = architectures.KNOWN_MODELS["meta-llama/Llama-3.1-70B"]
SMOL = architectures.KNOWN_MODELS["smollm2-135m"]


def cli_json(*args: str) -> dict:
    res = CliRunner().invoke(cli, [*args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def by_kind(share: memory.Share | memory.MemoryPlan) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in share.items:
        out[item.kind] = out.get(item.kind, 0) + item.bytes
    return out


# --------------------------------------------------------------------------- the log's case


def test_the_logs_70b_fp16_does_not_fit_one_h100_and_fits_two():
    one = cli_json("plan", "--params", "70B", "--precision", "fp16", "--gpu", "h100-sxm")
    two = cli_json("plan", "--params", "70B", "--precision", "fp16", "--gpu", "h100-sxm",
                   "--gpus", "2")
    assert one["gpus"][0]["fits"] is False and one["per_gpu_bytes"] == 140e9 + 5e8
    assert two["gpus"][0]["fits"] is True and two["gpu_count"] == 2
    assert two["parallel"] == "even" and "architecture unknown" in two["parallel_reason"]
    (share,) = two["shares"]
    assert (share["first"], share["last"]) == (0, 1)
    assert share["total_bytes"] == two["per_gpu_bytes"] == 70e9 + memory.CUDA_CONTEXT_BYTES


def test_the_table_says_the_split_and_each_gpus_share():
    res = CliRunner().invoke(cli, ["plan", "--model", "meta-llama/Llama-3.1-70B", "--precision",
                                   "fp16", "--gpu", "h100-sxm", "--gpus", "2"],
                             env={"COLUMNS": "220"})
    assert res.exit_code == 0, res.output
    assert "on 2 GPUs (tensor parallel)" in res.output
    assert "GPUs 0-1 (each)" in res.output and "64 attention heads and 8 KV heads" in res.output
    fits = next(line for line in res.output.splitlines() if "Fits?" in line)
    assert "NO" in fits and "yes" in fits  # one GPU does not; each of the two does
    assert "Data parallel" in res.output  # what the split does not model is said


# --------------------------------------------------------------------------- tensor parallel


@pytest.mark.parametrize("gpus", [2, 4, 8])
def test_tensor_parallel_splits_all_but_the_norms(gpus):
    whole = memory.plan(model="meta-llama/Llama-3.1-70B", precision="fp16")
    split = memory.plan(model="meta-llama/Llama-3.1-70B", precision="fp16", gpus=gpus)
    assert split.parallel == "tensor" and len(split.shares) == 1
    share = split.shares[0]
    assert (share.first, share.last) == (0, gpus - 1)
    norms = LLAMA_70B.num_layers * 2 * LLAMA_70B.hidden_size + LLAMA_70B.hidden_size
    weights = by_kind(share)["weights"] // 2  # fp16: 2 bytes a parameter
    assert weights == norms + (LLAMA_70B.param_count() - norms) // gpus
    assert by_kind(share)["kv_cache"] * gpus == by_kind(whole)["kv_cache"]
    assert split.items == whole.items  # the whole model is still shown beside the share


def test_tensor_parallel_training_shards_gradients_and_adam_too():
    split = memory.plan(model="meta-llama/Llama-3.1-70B", precision="bf16", training=True,
                        gpus=8)
    rows = by_kind(split.shares[0])
    assert rows["gradients"] == rows["weights"]
    assert rows["optimizer"] == (memory.ADAM_MOMENTS + 1) * rows["weights"]
    whole = by_kind(split)
    assert rows["activations"] < whole["activations"]  # heads and MLP width split 8 ways


# --------------------------------------------------------------------------- pipeline parallel


def test_pipeline_when_the_heads_do_not_divide():
    plan = memory.plan(model="meta-llama/Llama-3.1-70B", precision="fp16", gpus=3)
    assert plan.parallel == "pipeline" and "do not divide by 3" in plan.parallel_reason
    assert [s.holds for s in plan.shares] == [
        "layers 0-26 + embedding", "layers 27-53", "layers 54-79 + final norm and head"]
    weights = [by_kind(s)["weights"] for s in plan.shares]
    assert sum(weights) == by_kind(plan)["weights"]  # untied: nothing held twice
    kv = [by_kind(s)["kv_cache"] for s in plan.shares]
    assert sum(kv) == by_kind(plan)["kv_cache"] and kv[0] > kv[2]  # 27 layers against 26
    acts = [by_kind(s)["activations"] for s in plan.shares]
    assert acts[0] == acts[1] < acts[2]  # the logits are made on the last stage only


def test_a_tied_head_is_a_copy_on_the_last_stage():
    plan = memory.plan(model="smollm2-135m", precision="fp32", gpus=4)  # 9 heads, 3 KV heads
    assert plan.parallel == "pipeline"
    copy = SMOL.vocab_size * SMOL.hidden_size * 4
    assert sum(by_kind(s)["weights"] for s in plan.shares) == by_kind(plan)["weights"] + copy


def test_pipeline_can_be_asked_for_and_tensor_refused_where_heads_do_not_divide():
    asked = memory.plan(model="meta-llama/Llama-3.1-70B", gpus=2, parallel="pipeline")
    assert asked.parallel == "pipeline" and len(asked.shares) == 2
    with pytest.raises(BadInput, match="64 attention heads and 8 KV heads.*2, 4, 8"):
        memory.plan(model="meta-llama/Llama-3.1-70B", gpus=3, parallel="tensor")
    with pytest.raises(BadInput, match="30 layers"):
        memory.plan(model="smollm2-135m", gpus=31)


def test_the_operators_go_on_the_fullest_gpu_only():
    plan = memory.plan_for_gpus(memory.plan(model="meta-llama/Llama-3.1-70B", precision="fp16",
                                            gpus=3, quantum_dim=9333), gpu="h100-sxm")
    ops = [by_kind(s).get("operators", 0) for s in plan.shares]
    assert ops == [2 * memory.operator_bytes(9333), 0, 0]
    assert plan.fullest is plan.shares[0]
    assert plan.gpus[0].gpu_bytes_placed == plan.shares[0].total_bytes


def test_one_gpu_is_the_plan_as_before():
    plan = memory.plan(model="Qwen2.5-7B-Instruct", quantum_dim=9333)
    assert plan.gpu_count == 1 and plan.parallel == "single"
    assert plan.shares[0].items == plan.items


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("value", ["0", "-2", "1.5", "two"])
def test_a_gpu_count_that_is_not_a_whole_positive_number(value):
    one_line_error(["plan", "--params", "70B", "--gpus", value], f"gpus '{value}'",
                   "a whole number from 1")


def test_other_bad_split_lines():
    one_line_error(["plan", "--params", "70B", "--gpus", "2", "--parallel", "data"],
                   "'data'", "auto, tensor, pipeline")
    one_line_error(["plan", "--params", "70B", "--gpus", "2", "--parallel", "pipeline"],
                   "--model")
    one_line_error(["plan", "--model", "smollm2-135m", "--gpu", "h100-sxm", "--gpus", "2",
                    "--log"], "--gpus 1")


# --------------------------------------------------------------------------- project, advise


def test_project_onto_two_gpus_is_priced_at_twice_the_rate(two_campaigns):
    one = cli_json("project", "run-001", "--to", "h100-sxm")
    two = cli_json("project", "run-001", "--to", "h100-sxm", "--gpus", "2")
    rows1 = {r["phase"]: r for r in one["rows"]}
    rows2 = {r["phase"]: r for r in two["rows"]}
    assert two["target"]["gpu_count"] == 2 and two["target"]["parallel"] == "tensor"
    for phase in ("encode", "train", "intervene"):  # Qwen2.5-7B: 28 and 4 heads divide by 2
        assert rows2[phase]["projected_s"] == pytest.approx(rows1[phase]["projected_s"] / 2)
    assert rows2["reverse"]["projected_s"] == pytest.approx(rows1["reverse"]["projected_s"])
    rate = catalog.get("h100-sxm").usd_per_hour
    total = rows2["total"]
    assert total["projected_usd"] == pytest.approx(total["projected_s"] / 3600 * rate * 2)
    assert any("upper bound on the speed-up" in a for a in two["assumptions"])


def test_project_under_pipeline_parallel_does_not_speed_up(two_campaigns):
    one = cli_json("project", "run-001", "--to", "h100-sxm")
    three = cli_json("project", "run-001", "--to", "h100-sxm", "--gpus", "3")
    assert three["target"]["parallel"] == "pipeline"
    assert three["total"]["projected_s"] == pytest.approx(one["total"]["projected_s"])
    assert three["total"]["projected_usd"] == pytest.approx(one["total"]["projected_usd"] * 3)
    assert any("stages in turn" in a for a in three["assumptions"])


def test_project_bad_gpu_counts(two_campaigns):
    one_line_error(["project", "run-001", "--to", "h100-sxm", "--gpus", "0"], "gpus '0'")
    one_line_error(["project", "run-001", "--to", "h100-sxm", "--gpus", "2", "--log"],
                   "GPU count")


def test_advise_offers_n_x_gpu_at_n_x_the_rate(two_campaigns):
    res = CliRunner().invoke(cli, ["advise", "run-001", "--gpu", "h100-sxm", "--gpus", "2",
                                   "--setup-min", "0", "--json"])
    assert res.exit_code == 0, res.output
    opts = {o["key"]: o for o in json.loads(res.output)["options"]}
    one, two = opts["h100-sxm"], opts["2xh100-sxm"]
    assert two["gpus"] == 2 and one["gpus"] == 1 and "2 x h100-sxm" in two["title"]
    rate = catalog.get("h100-sxm").usd_per_hour
    assert two["cost_usd"] == pytest.approx(two["time_s"] / 3600 * rate * 2)
    assert two["time_s"] < one["time_s"]
    assert any("1 -> 2 GPUs" in a for a in two["assumptions"])
    assert any("x 2 GPU(s)" in a for a in two["assumptions"])


def test_advice_picks_an_n_x_gpu_option_by_its_key(two_campaigns):
    from cogit_tracker.planning.advise import advise

    advice = advise(two_campaigns["uri"], "run-001", ["h100-sxm"], setup_min=0)
    picked = advice.pick("2xh100-sxm")
    assert (picked.gpu, picked.gpus, picked.key) == ("h100-sxm", 2, "2xh100-sxm")
    with pytest.raises(BadInput, match="gpus '0'"):
        advice.pick("0xh100-sxm")


def test_advise_bad_gpu_count(two_campaigns):
    one_line_error(["advise", "run-001", "--gpus", "0"], "gpus '0'")


def test_a_cpu_host_takes_no_gpu_count(two_campaigns):
    from cogit_tracker import schema

    sy.make_campaign(two_campaigns["client"], "e", sy.CampaignSpec(
        "cpu-measured", sy.reference_phases(), gpu_key="none", gpu_count=0,
        extra_tags={schema.CPU_GFLOPS: "98.9", schema.CPU_BANDWIDTH_GBS: "33.5"}))
    one_line_error(["project", "cpu-measured", "--to", "none", "--gpus", "2"], "--gpus 2",
                   "a host is one machine")

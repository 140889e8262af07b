"""The agent loop driven by verl's own AgentLoopWorker, as verl's V1 trainer drives it (session_id, global_steps).

verl's rollout server is the one piece that needs a GPU; here a local server generates with the tiny target
(transformers, on CPU) behind the same `generate` interface. Everything else is verl's code: Hydra config,
RLHFDataset, the agent-loop registry loaded from our YAML, padding/postprocessing, and GRPO advantages.
verl's TransferQueue worker (`AgentLoopWorkerTQ`, the class its Ray actor runs) also runs here, over an
in-memory TransferQueue, into the replay buffer the trainer builds from our overrides.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
import torch

from s2lpo_cli.verl_ext.command import verl_overrides
from s2lpo_cli.verl_ext.draws import plan_draws
from s2lpo_cli.verl_ext.launch import Prepared, write_run_folder

from .conftest import compose_verl, tiny_verl_recipe, train_rows, write_store

# Slow: only the tests that run verl's TransferQueue trainer modules or many agent sessions; the rest (the
# explorer slots, the split phases, the step check, the bank read) are in the quick selection.
pytestmark = pytest.mark.verl
SAMPLING = {"temperature": 1.0, "top_p": 1.0, "top_k": -1, "repetition_penalty": 1.0, "logprobs": True}


class TinyServer:
    """verl's LLM server interface, generating with the tiny target on CPU."""

    def __init__(self, model_dir: Path) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model = AutoModelForCausalLM.from_pretrained(model_dir)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.calls: list[dict] = []

    async def generate(self, request_id, *, prompt_ids, sampling_params, **_):
        from verl.workers.rollout.replica import TokenOutput

        self.calls.append(dict(sampling_params))
        torch.manual_seed(len(self.calls))
        out = self.model.generate(torch.tensor([prompt_ids]), do_sample=True, max_new_tokens=6, output_scores=True,
                                  return_dict_in_generate=True, pad_token_id=self.tokenizer.pad_token_id)
        new = out.sequences[0, len(prompt_ids):].tolist()
        logprobs = [torch.log_softmax(s[0], -1)[t].item() for s, t in zip(out.scores, new, strict=True)]
        return TokenOutput(token_ids=new, log_probs=logprobs, extra_fields={"global_steps": 0})


@pytest.fixture(scope="module")
def verl_run(tiny_models, tmp_path_factory):
    """A written run folder (tiny recipe, mixed and split) and verl's worker over it."""
    from verl.experimental.agent_loop.agent_loop import AgentLoopWorker
    from verl.utils.dataset.rl_dataset import RLHFDataset

    root = tmp_path_factory.mktemp("verl_run")
    rows = train_rows(tiny_models)
    store = write_store(root / "store", tiny_models, rows, n_per_prompt=40)
    responses = {pid: {r.response_index: r for r in group} for pid, group in store.responses_by_prompt().items()}
    runs = {}
    for mode in ("mixed", "split"):
        recipe = tiny_verl_recipe(tiny_models, root / mode, root / "store", f"schedule.mode={mode}")
        planned = plan_draws(rows, recipe, {pid: sorted(g) for pid, g in responses.items()})
        paths, _ = write_run_folder(recipe, Prepared(planned, rows[:4], responses))
        cfg = compose_verl(verl_overrides(recipe, paths))
        server = TinyServer(tiny_models / "target")
        worker = AgentLoopWorker(cfg, llm_client=server)
        dataset = RLHFDataset(str(paths.train_parquet), worker.tokenizer, cfg.data)
        runs[mode] = (recipe, paths, worker, server, dataset, responses)
    return runs


def _drive(worker, item, global_steps: int, uid: str, n: int, postprocess: bool = True):
    """What verl's AgentLoopWorkerTQ._run_prompt does for one prompt: n sessions under one uid."""
    from omegaconf import OmegaConf
    from verl.experimental.agent_loop.agent_loop import _agent_loop_registry

    prompt = {k: v for k, v in item.items() if k not in ("agent_name", "__rollout_n__")}  # verl pops both
    entry = OmegaConf.load(worker.rollout_config.agent.agent_loop_config_path)[0]
    _agent_loop_registry[entry.name] = entry  # the registry is per process; both test runs share this one

    async def run_all():
        outputs = []
        for session_id in range(n):
            kwargs = {**prompt, "uid": uid, "global_steps": global_steps, "session_id": session_id}
            if postprocess:
                trajectory = {"step": global_steps, "sample_index": item["index"], "rollout_n": session_id,
                              "validate": False}
                outputs.append(await worker._run_agent_loop(dict(SAMPLING), trajectory, agent_name=item["agent_name"],
                                                            trace=False, **kwargs))
            else:
                loop = _instantiate(worker, entry)
                outputs.append(await loop.run(dict(SAMPLING), **kwargs))
        return outputs

    return asyncio.run(run_all())


def _instantiate(worker, entry):
    import hydra
    from verl.experimental.agent_loop.agent_loop import DictConfigWrap, ToolListWrap

    return hydra.utils.instantiate(config=entry, trainer_config=DictConfigWrap(worker.config), server_manager=worker.llm_client,
                                   tokenizer=worker.tokenizer, processor=None, hf_model_type="qwen3",
                                   dataset_cls=worker.dataset_cls, data_config=DictConfigWrap(worker.config.data),
                                   tools=ToolListWrap([]))


def _unpadded(output):
    p = output.prompt_ids.shape[1]
    prompt = output.prompt_ids[0][output.attention_mask[0, :p].bool()].tolist()
    response = output.response_ids[0][output.attention_mask[0, p:].bool()].tolist()
    return prompt, response


def test_first_g_w_slots_replay_the_explorer_and_the_rest_generate(verl_run):
    recipe, paths, worker, server, dataset, responses = verl_run["mixed"]
    item = dataset[8]  # first row of global step 2: alpha = 2/3, G_w = ceil(2/3 * 8) = 6
    assert item["extra_info"]["step"] == 2
    server.calls.clear()
    outputs = _drive(worker, item, global_steps=2, uid="u8", n=8)
    expected_prompt = worker.tokenizer.apply_chat_template(list(item["raw_prompt"]), tokenize=True, add_generation_prompt=True,
                                                           enable_thinking=False)
    expected_prompt = list(expected_prompt["input_ids"] if hasattr(expected_prompt, "keys") else expected_prompt)
    stored = responses[item["extra_info"]["prompt_id"]]
    for slot, output in enumerate(outputs):
        prompt, response = _unpadded(output)
        assert prompt == expected_prompt  # every slot: the target's chat template
        if slot < 6:
            want = stored[item["extra_info"]["explorer"][slot]]
            assert response == list(want.response_token_ids)
            assert output.extra_fields["s2lpo_source"] == "explorer"
            logprobs = output.response_logprobs[0, : len(response)]
            assert torch.allclose(logprobs, torch.tensor(want.response_logprobs, dtype=torch.float32))
        else:
            assert output.extra_fields["s2lpo_source"] == "target"
    assert len(server.calls) == 2  # only the G_s = 2 target slots reached the rollout server
    import json

    stats = json.loads(paths.explorer_steps.read_text())["2"]  # what the metrics mapping subtracts at step 2
    assert stats["count"] == 8 * 6 and stats["reward_sum"] is not None


def test_split_mode_rows_start_only_their_phase(verl_run):
    recipe, paths, worker, server, dataset, _ = verl_run["split"]
    # tiny: G=8, N=4. Global steps: 1 explorer(8) | 2 explorer(6), 3 target(3) | 4 explorer(3), 5 target(6) | ...
    explorer_item, target_item = dataset[8], dataset[16]
    assert (explorer_item["extra_info"]["step"], target_item["extra_info"]["step"]) == (2, 3)
    assert (explorer_item["__rollout_n__"], target_item["__rollout_n__"]) == (6, 3)
    server.calls.clear()
    explorer_phase = _drive(worker, explorer_item, global_steps=2, uid="a", n=6, postprocess=False)
    assert all(o.extra_fields["s2lpo_source"] == "explorer" for o in explorer_phase) and not server.calls
    target_phase = _drive(worker, target_item, global_steps=3, uid="b", n=3, postprocess=False)
    assert all(o.extra_fields["s2lpo_source"] == "target" for o in target_phase) and len(server.calls) == 3
    # both kinds carry the same fields into verl's TransferQueue, and stack into one batch as its writer does
    from verl.utils.tensordict_utils import list_of_dict_to_tensordict

    fields = [o.as_dict() for o in (explorer_phase[0], target_phase[0])]
    assert set(fields[0]) == set(fields[1])
    for field in fields:
        field.pop("multi_modal_data", None)
        field["loss_mask"] = field["response_mask"]
    stacked = list_of_dict_to_tensordict(fields)
    assert stacked["rollout_log_probs"][0].shape == stacked["responses"][0].shape


def _tq_worker(worker):
    """verl's TransferQueue agent-loop worker (the Ray actor's class, built in this process) over the same server."""
    from verl.trainer.ppo.v1.agent_loop_tq import AgentLoopWorkerTQ

    return AgentLoopWorkerTQ.__ray_metadata__.modified_class(worker.config, llm_client=worker.llm_client)


def _submit_step(tq_store, tq_worker, dataset, step: int, drop: tuple[str, ...] = ()) -> int:
    """What verl's sync trainer does for one global step: its rows as one batch, registered, then dispatched."""
    from verl.utils import tensordict_utils as tu
    from verl.utils.dataset.rl_dataset import collate_fn

    rows = [item for item in (dataset[i] for i in range(len(dataset))) if item["extra_info"]["step"] == step]
    batch_dict = collate_fn([{k: v for k, v in item.items() if k not in drop} for item in rows])
    batch_dict["uid"] = np.array([f"s{step}p{i}" for i in range(len(rows))], dtype=object)
    batch = tu.get_tensordict(batch_dict)
    tu.assign_non_tensor_data(batch, "global_steps", step)
    tq_store.kv_batch_put(list(batch["uid"]), "train",
                          [{"is_prompt": True, "status": "pending", "global_steps": step} for _ in rows])

    async def generate():
        await tq_worker.generate_sequences(batch)
        await asyncio.gather(*list(tq_worker.background_tasks))

    asyncio.run(generate())
    return len(rows)


@pytest.mark.slow
def test_verl_worker_starts_only_the_planned_sessions_and_the_steps_stay_aligned(verl_run, tq_store, caplog):
    from s2lpo_cli.verl_ext.sampler import PlannedGroupReplayBuffer

    from .conftest import replay_buffer

    recipe, paths, worker, server, dataset, _ = verl_run["split"]
    tq_worker = _tq_worker(worker)
    buffer = replay_buffer(tq_worker.config)
    assert type(buffer) is PlannedGroupReplayBuffer
    server.calls.clear()
    with caplog.at_level("WARNING"):
        prompts = _submit_step(tq_store, tq_worker, dataset, 2)  # explorer phase: 6 per group
        batch, metrics = buffer.sample(global_steps=2, partition_id="train", batch_size=prompts)
        assert (len(batch.keys), metrics["s2lpo/explorer_responses"], metrics["s2lpo/target_responses"]) == (
            prompts * 6, prompts * 6, 0)
        assert not server.calls
        _submit_step(tq_store, tq_worker, dataset, 3)  # target phase: 3 per group
        batch, metrics = buffer.sample(global_steps=3, partition_id="train", batch_size=prompts)
        assert (len(batch.keys), metrics["s2lpo/explorer_responses"], metrics["s2lpo/target_responses"]) == (
            prompts * 3, 0, prompts * 3)
        assert len(server.calls) == prompts * 3  # no target session started beyond the phase's group
    assert "Empty output" not in caplog.text and "Error in _run_prompt" not in caplog.text


def test_a_row_without_its_rollout_n_stops_the_run(verl_run, tq_store, caplog):
    from s2lpo_cli.verl_ext.sampler import GroupPlanError

    from .conftest import replay_buffer

    _, _, worker, _, dataset, _ = verl_run["split"]
    tq_worker = _tq_worker(worker)
    prompts = _submit_step(tq_store, tq_worker, dataset, 2, drop=("__rollout_n__",))  # verl falls back to n = G = 8
    assert "beyond global step 2's group of 6" in caplog.text
    with pytest.raises(GroupPlanError, match="failed in the agent loop"):
        replay_buffer(tq_worker.config).sample(global_steps=2, partition_id="train", batch_size=prompts)


def test_a_slow_bank_read_does_not_stall_the_workers_event_loop(verl_run, monkeypatch):
    import time

    from omegaconf import OmegaConf

    from s2lpo_cli.verl_ext.explorer_bank import ExplorerBank

    _, _, worker, _, dataset, _ = verl_run["mixed"]
    read = ExplorerBank.lookup

    def slow_lookup(path, prompt_id, response_index):  # a first open of a large bank on a slow disk
        time.sleep(1.0)
        return read(path, prompt_id, response_index)

    monkeypatch.setattr(ExplorerBank, "lookup", staticmethod(slow_lookup))
    item = {k: v for k, v in dataset[8].items() if k not in ("agent_name", "__rollout_n__")}
    entry = OmegaConf.load(worker.rollout_config.agent.agent_loop_config_path)[0]
    gaps: list[float] = []

    async def tick(done: asyncio.Event):
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.01)
            gaps.append(time.monotonic() - last)
            last = time.monotonic()

    async def main():
        done = asyncio.Event()
        ticker = asyncio.create_task(tick(done))
        output = await _instantiate(worker, entry).run(dict(SAMPLING), **item, uid="slow", global_steps=2, session_id=0)
        done.set()
        await ticker
        return output

    output = asyncio.run(main())
    assert output.extra_fields["s2lpo_source"] == "explorer"
    # the loop kept running while the bank was read: a blocking read makes one gap of at least the 1 s sleep. The
    # margins are for a loaded machine: the ticker may start a few ms into the read (a sum of 0.9987 s was seen),
    # and at a 0.5 s bound make mutate at load 5-6 saw false failures
    assert sum(gaps) >= 0.9 and max(gaps) < 0.9


def test_row_served_at_another_step_is_refused(verl_run):
    _, _, worker, _, dataset, _ = verl_run["mixed"]
    with pytest.raises(RuntimeError, match=r"row 8 was planned for global step 2 but verl serves it at step 3; the "
                       r"training parquet must be read in order \(data.shuffle=false, one pass\)"):
        _drive(worker, dataset[8], global_steps=3, uid="x", n=1, postprocess=False)


def _session(worker, item: dict, global_steps: int, session_id: int, presence_penalty: float | None = None):
    """One session of a fresh loop (the recipe's presence penalty unless given) on this row."""
    from omegaconf import OmegaConf

    entry = OmegaConf.load(worker.rollout_config.agent.agent_loop_config_path)[0]
    if presence_penalty is not None:
        entry.presence_penalty = presence_penalty
    kwargs = {**{k: v for k, v in item.items() if k not in ("agent_name", "__rollout_n__")}, "uid": "u",
              "global_steps": global_steps, "session_id": session_id}

    async def run():  # the loop binds the running event loop when built
        return await _instantiate(worker, entry).run(dict(SAMPLING), **kwargs)

    return asyncio.run(run())


def test_an_explorer_slot_has_the_fields_of_verls_single_turn_output(verl_run):
    """Step 2 of tiny (mixed): G_w = 6 explorer slots, then 2 target slots. The explorer output is stamped with
    the weights version 1 (= step - 1) that verl gives the step's own samples, and otherwise matches a target one."""
    _, _, worker, _, dataset, _ = verl_run["mixed"]
    explorer, target = _session(worker, dataset[8], 2, 0), _session(worker, dataset[8], 2, 6)
    assert explorer.response_mask == [1] * len(explorer.response_ids) and len(explorer.response_ids) > 1
    assert explorer.extra_fields == {"turn_scores": [], "tool_rewards": [], "s2lpo_source": "explorer",
                                     "global_steps": 1, "min_global_steps": 1, "max_global_steps": 1}
    fields = ("num_turns", "multi_modal_data", "mm_processor_kwargs", "routed_experts")
    assert [getattr(explorer, f) for f in fields] == [getattr(target, f) for f in fields] == [2, {}, {}, None]
    assert {"turn_scores", "tool_rewards", "s2lpo_source"} <= set(target.extra_fields)


def test_the_target_slots_get_the_presence_penalty_only_when_set(verl_run):
    _, _, worker, server, dataset, _ = verl_run["mixed"]
    server.calls.clear()
    _session(worker, dataset[8], 2, 6, presence_penalty=1.5)
    _session(worker, dataset[8], 2, 7)  # tiny's rollout.presence_penalty: 0.0
    assert server.calls[0]["presence_penalty"] == 1.5 and "presence_penalty" not in server.calls[1]


def test_slots_and_steps_outside_the_plan_are_refused_with_the_reason(verl_run):
    _, _, worker, server, dataset, _ = verl_run["mixed"]  # tiny mixed: 8 physical steps, step 2 is 6 + 2
    with pytest.raises(RuntimeError, match=r"^row 8: session 8 is beyond global step 2's group of 8 \(6 explorer "
                       r"\+ 2 target\); verl did not honour the row's __rollout_n__ \(s2lpo needs verl 0.9.1's V1 "
                       r"agent-loop worker\)$"):
        _session(worker, dataset[8], 2, 8)
    short = {**dataset[8], "extra_info": {**dataset[8]["extra_info"], "explorer": dataset[8]["extra_info"]["explorer"][:2]}}
    with pytest.raises(RuntimeError, match=r"^row 8 plans 2 explorer responses, slot 2 needs more$"):
        _session(worker, short, 2, 2)
    from omegaconf import OmegaConf

    loop = _instantiate(worker, OmegaConf.load(worker.rollout_config.agent.agent_loop_config_path)[0])
    assert (loop.physical_step(1), loop.physical_step(8)) == (loop.plan[0], loop.plan[7])
    for outside in (0, 9):
        with pytest.raises(ValueError, match=rf"^global step {outside} is outside the run's 8 physical steps$"):
            loop.physical_step(outside)


@pytest.mark.slow
def test_verl_grpo_advantage_over_the_mixed_batch_equals_the_embedded_trainers(verl_run):
    from verl import DataProto
    from verl.trainer.ppo.core_algos import AdvantageEstimator
    from verl.trainer.ppo.v1.utils import compute_advantage_for_multi_trajectories

    from s2lpo_cli.training.advantages import grpo_advantages
    from s2lpo_cli.verl_ext.reward import compute_score

    recipe, paths, worker, server, dataset, _ = verl_run["mixed"]
    outputs, keys, uids = [], [], []
    for index, uid in ((8, "u8"), (9, "u9")):
        item = dataset[index]
        outputs += _drive(worker, item, global_steps=2, uid=uid, n=8)
        keys += [f"{uid}_{s}_0" for s in range(8)]
        uids += [uid] * 8
    batch = worker._postprocess(outputs, input_non_tensor_batch=None)
    # rewards as verl's reward loop computes them: the grader on the decoded response
    rewards = []
    for i in range(len(batch)):
        _, response = _unpadded(outputs[i])
        text = worker.tokenizer.decode(response, skip_special_tokens=True)
        gold = dataset[8 if i < 8 else 9]["reward_model"]["ground_truth"]
        rewards.append(asyncio.run(compute_score("synthetic", text, gold))["score"])
    assert 0 < sum(rewards) < len(rewards)  # explorer slots alternate right/wrong answers
    response_mask = batch.batch["response_mask"]
    last = response_mask.sum(-1) - 1
    token_rewards = torch.zeros_like(response_mask, dtype=torch.float32)
    token_rewards[torch.arange(len(batch)), last] = torch.tensor(rewards)
    data = DataProto.from_dict(tensors={"token_level_rewards": token_rewards, "response_mask": response_mask},
                               non_tensors={"uid": np.array(uids, dtype=object)})
    data = compute_advantage_for_multi_trajectories(
        data, batch_keys=keys, adv_estimator=AdvantageEstimator.GRPO, num_repeat=8,
        norm_adv_by_std_in_grpo=recipe.optim.norm_adv_by_std, config=worker.config.algorithm)
    verl_adv = data.batch["advantages"][torch.arange(len(batch)), 0]
    ours = grpo_advantages(torch.tensor(rewards), uids, norm_by_std=recipe.optim.norm_adv_by_std).advantages
    assert torch.allclose(verl_adv, ours, atol=1e-5)
    assert (data.batch["advantages"] * (1 - response_mask)).abs().sum() == 0

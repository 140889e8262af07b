"""How the target's log-probabilities of worked chain responses move over training, checkpoint by checkpoint.

    python scripts/toy_logprob_probe.py reproduce_toy/transfer runs/seed0 runs/seed0_grpo

For each saved checkpoint of each run (and the untrained target, step 0) it scores the worked response of
the first 200 training chains (`7+5=12, 12-3=9. \\boxed{9}`, what the explorer writes when it is right),
prompted as training prompts them: the mean log-probability of the whole response, of the `,` that goes on
after the sum, and of the second step's `-` (the target warmed up on `a + b + c` chains writes `+` there).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from s2lpo_cli.tiny import task  # noqa: E402
from s2lpo_cli.tiny.warmup import encode_example  # noqa: E402

N_CHAINS = 200


def score(model_dir: Path, examples: list[tuple[list[int], list[int], tuple[int, int]]]) -> list[float]:
    """[mean log-prob of a response, of its `,`, of its second step's `-`]."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    totals, marks = [], []
    with torch.no_grad():
        for prompt, response, positions in examples:
            ids = torch.tensor([prompt + response])
            logp = torch.log_softmax(model(ids).logits[0, :-1].float(), dim=-1)
            token_logp = logp[len(prompt) - 1 :].gather(-1, ids[0, len(prompt) :, None]).squeeze(-1)
            totals.append(float(token_logp.sum()))
            marks.append([float(token_logp[i]) for i in positions])
    return [sum(totals) / len(totals), *(sum(column) / len(column) for column in zip(*marks, strict=True))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work", type=Path, help="a reproduce_toy task folder (holds tiny_models/ and runs/)")
    parser.add_argument("runs", nargs="+", help="run folders under WORK")
    args = parser.parse_args()

    import torch
    from transformers import AutoTokenizer

    from s2lpo_cli.run_folder import CHECKPOINT_PREFIX, RunFolder

    torch.set_num_threads(1)
    target = args.work / "tiny_models" / "target"
    tokenizer = AutoTokenizer.from_pretrained(target)
    chains = [p for p in task.problems(0, "train", task="transfer") if p.family == "chain"][:N_CHAINS]
    examples = []
    for p in chains:
        prompt, response = encode_example(tokenizer, p, task.TINY_INSTRUCTION, thinking=False)
        comma = response.index(tokenizer.convert_tokens_to_ids(","))
        minus = response.index(tokenizer.convert_tokens_to_ids("-"), comma)
        examples.append((prompt, response, (comma, minus)))
    print("| run | step | mean log-prob of a worked chain response | of its ',' | of its second '-' |")
    print("|---|---|---|---|---|")
    print("| untrained | 0 | {:.2f} | {:.2f} | {:.2f} |".format(*score(target, examples)), flush=True)
    for run in args.runs:
        for checkpoint in sorted(RunFolder(args.work / run).checkpoints.glob(f"{CHECKPOINT_PREFIX}*")):
            if checkpoint.name.removeprefix(CHECKPOINT_PREFIX).isdigit():
                step = int(checkpoint.name.removeprefix(CHECKPOINT_PREFIX))
                print("| {} | {} | {:.2f} | {:.2f} | {:.2f} |".format(run, step, *score(checkpoint, examples)), flush=True)


if __name__ == "__main__":
    main()

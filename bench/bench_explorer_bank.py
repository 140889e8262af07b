"""Explorer bank memory: one agent-loop worker serving one step's explorer responses, whole-bank load
(the previous reader) against per-prompt reads (`ExplorerBank`), in the same run.

A synthetic bank shaped like 4b_8b's (16 responses per prompt, each `--tokens` random token ids and
log-probs) is written by `parquet.write_bank`, as a launch writes it. One worker of verl's 8 serves
its share of step 1: `--prompts` prompts x 16 responses, looked up one after another. Each reader
runs in a fresh child process that first reads a one-prompt bank both ways (so Arrow's code and
pools are warm); its figure is peak resident memory (Linux `/proc/self/status`: VmHWM at the end
minus VmRSS before the bank is opened): Arrow buffers, Python objects, the reader's index.

    python -m bench.bench_explorer_bank                    # 8,192 responses (what `make bench` runs)
    python -m bench.bench_explorer_bank --responses 70000  # 4b_8b's bank holds 68,608
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PER_PROMPT = 16  # 4b_8b: G = 16, all explorer at step 1
VOCAB = 151_000


class WholeBank:
    """The previous reader (baseline): the whole bank read into memory, a (prompt, index) -> row dict."""

    def __init__(self, path: str) -> None:
        import pyarrow.parquet as pq

        self.table = pq.read_table(path)
        keys = zip(self.table.column("prompt_id").to_pylist(), self.table.column("response_index").to_pylist(),
                   strict=True)
        self.row_of = {key: i for i, key in enumerate(keys)}

    def get(self, prompt_id: str, response_index: int) -> tuple[list[int], list[float]]:
        row = self.row_of[(prompt_id, response_index)]
        return self.table.column("response_token_ids")[row].as_py(), self.table.column("response_logprobs")[row].as_py()


def synthetic_bank(responses: int, tokens: int, seed: int = 0):
    """A bank table: prompts of PER_PROMPT responses, each `tokens` long."""
    import numpy as np
    import pyarrow as pa

    from s2lpo_cli.verl_ext.parquet import BANK_SCHEMA

    if responses * tokens >= 2**31:
        raise SystemExit("--responses x --tokens must stay below 2**31 (Arrow list offsets)")
    rng = np.random.default_rng(seed)
    offsets = pa.array(np.arange(responses + 1, dtype=np.int32) * tokens)
    ids = pa.ListArray.from_arrays(offsets, pa.array(rng.integers(0, VOCAB, responses * tokens, dtype=np.int32)))
    logprobs = pa.ListArray.from_arrays(offsets, pa.array(-5 * rng.random(responses * tokens, dtype=np.float32)))
    return pa.table({
        "prompt_id": pa.array([f"{i // PER_PROMPT:016x}" for i in range(responses)]),
        "response_index": pa.array([i % PER_PROMPT for i in range(responses)], pa.int32()),
        "response_token_ids": ids,
        "response_logprobs": logprobs,
        "finish_reason": pa.array(["length"] * responses),
    }, schema=BANK_SCHEMA)


def _status_kb(field: str) -> int:
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(field + ":"))
    return int(line.split()[1])


def child(reader: str, bank: str, lookups_file: str) -> None:
    """Run in a fresh process: open the bank with `reader`, serve the lookups, print the figures as JSON."""
    import gc

    from s2lpo_cli.verl_ext.explorer_bank import ExplorerBank
    from s2lpo_cli.verl_ext.parquet import write_bank

    lookups = json.loads(Path(lookups_file).read_text())
    warm = Path(lookups_file).with_name(f"warm_{reader}.parquet")
    write_bank(synthetic_bank(PER_PROMPT, 16), warm)
    for warm_store in (WholeBank(str(warm)), ExplorerBank(str(warm))):
        warm_store.get(f"{0:016x}", 0)
    del warm_store
    gc.collect()
    start_kb = _status_kb("VmRSS")
    started = time.perf_counter()
    store = WholeBank(bank) if reader == "whole" else ExplorerBank(bank)
    opened = time.perf_counter() - started
    tokens = 0
    for prompt_id, index in lookups:
        ids, _ = store.get(prompt_id, index)
        tokens += len(ids)
    print(json.dumps({"peak_mb": (_status_kb("VmHWM") - start_kb) / 1024, "open_s": opened,
                      "total_s": time.perf_counter() - started, "tokens": tokens}))


def measure(reader: str, bank: Path, lookups: Path) -> dict[str, float]:
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "bench.bench_explorer_bank", "--child", reader, str(bank), str(lookups)],
                          cwd=root, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict[str, float]:
    from s2lpo_cli.verl_ext.parquet import write_bank

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=8192, help="responses in the bank")
    parser.add_argument("--tokens", type=int, default=2048, help="tokens per response")
    parser.add_argument("--prompts", type=int, default=128, help="prompts one worker serves (step 1 of 4b_8b: 1024 / 8)")
    parser.add_argument("--child", nargs=3, metavar=("READER", "BANK", "LOOKUPS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv if argv is not None else [])
    if args.child:
        child(*args.child)
        return {}
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        bank, lookups = Path(tmp) / "explorer_bank.parquet", Path(tmp) / "lookups.json"
        write_bank(synthetic_bank(args.responses, args.tokens), bank)
        prompts = sorted({f"{i // PER_PROMPT:016x}" for i in range(args.responses)})
        served = random.Random(0).sample(prompts, min(args.prompts, len(prompts)))
        lookups.write_text(json.dumps([(p, i) for p in served for i in range(PER_PROMPT)]))
        whole, per_prompt = measure("whole", bank, lookups), measure("per_prompt", bank, lookups)
        size_mb = bank.stat().st_size / 2**20
    if whole["tokens"] != per_prompt["tokens"]:
        raise SystemExit(f"the readers served different responses ({whole['tokens']} vs {per_prompt['tokens']} tokens)")
    figures = {"responses": args.responses, "tokens_per_response": args.tokens, "bank_mb": size_mb,
               "lookups": len(served) * PER_PROMPT, "whole_peak_mb": whole["peak_mb"],
               "per_prompt_peak_mb": per_prompt["peak_mb"], "whole_open_s": whole["open_s"],
               "per_prompt_open_s": per_prompt["open_s"], "whole_total_s": whole["total_s"],
               "per_prompt_total_s": per_prompt["total_s"], "load_average": load}
    print(
        f"explorer bank, {args.responses} responses x {args.tokens} tokens ({size_mb:.0f} MB file), one worker serving "
        f"{figures['lookups']} of them: whole-bank load {whole['peak_mb']:.0f} MB peak RSS (open {whole['open_s']:.2f} s, "
        f"total {whole['total_s']:.2f} s); per-prompt reads {per_prompt['peak_mb']:.0f} MB (open "
        f"{per_prompt['open_s']:.2f} s, total {per_prompt['total_s']:.2f} s); load average {load:.1f} on "
        f"{os.cpu_count()} cores"
    )
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])

"""How much memory a CPU run of the verl engine needs, estimated before it starts."""

from __future__ import annotations

from pathlib import Path

FLOAT32 = 4
# per training process: weights, gradients, two Adam moments (actor), the reference copy, the rollout copy
MODEL_COPIES = 6
PROCESS_BYTES = 700 * 2**20  # measured resident size of one of verl's Python processes with torch imported
PROCESSES = 8  # driver, TaskRunner, rollout server, agent-loop and reward workers, TransferQueue actors


def parameter_count(model_dir: Path) -> int:
    """Parameters of a Hugging Face model folder, read from its safetensors headers (no weights loaded)."""
    from safetensors import safe_open

    total = 0
    for file in sorted(Path(model_dir).glob("*.safetensors")):
        with safe_open(str(file), framework="pt") as f:
            for name in f.keys():
                shape = f.get_slice(name).get_shape()
                count = 1
                for dim in shape:
                    count *= int(dim)
                total += count
    return total


def estimate_bytes(model_dir: Path, workers: int) -> int:
    """Float32 copies of the model per training process plus verl's fixed processes."""
    return parameter_count(model_dir) * FLOAT32 * MODEL_COPIES * workers + PROCESS_BYTES * (PROCESSES + workers)


def memory_available() -> int:
    """MemAvailable from /proc/meminfo (Linux); physical memory elsewhere."""
    import os

    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")

"""The explorer bank as an agent-loop worker reads it: one prompt's responses at a time.

`parquet.write_bank` writes `explorer_bank.parquet` sorted by prompt, one row group per prompt. A
worker opens it once (the footer and the prompt_id column: a prompt -> row groups index) and reads a
prompt's row group when one of its sessions first needs it; the last `RECENT` prompts stay in memory
for their other sessions. Every worker loading the whole bank instead held all of it (4b_8b: 68,608
responses, about 1 GB per worker); `bench/bench_explorer_bank.py` measures both. The file is read,
not memory-mapped: parquet pages are decompressed into new buffers either way, and a mapping only
adds the pages it touched to the worker's resident memory (measured: +65 MB for 2,048 responses).

Reads are blocking file I/O: the agent loop calls `lookup` through `asyncio.to_thread`, so a slow
first open does not stall the worker's event loop.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

RESPONSE_COLUMNS = ["response_index", "response_token_ids", "response_logprobs"]


class ExplorerBank:
    """Per-prompt reads of one explorer bank file; `open` shares one instance per path in a process."""

    RECENT = 32  # prompts kept decoded: the G_w sessions of a prompt run together, so few are needed

    _opened: dict[str, ExplorerBank] = {}
    _open_lock = threading.Lock()

    def __init__(self, path: str) -> None:
        self.path = path
        self.file = pq.ParquetFile(path)
        prompt_ids = self.file.read(columns=["prompt_id"]).column("prompt_id").to_pylist()
        self.groups_of: dict[str, list[int]] = {}
        start = 0
        for group in range(self.file.num_row_groups):
            rows = self.file.metadata.row_group(group).num_rows
            for prompt_id in dict.fromkeys(prompt_ids[start:start + rows]):
                self.groups_of.setdefault(prompt_id, []).append(group)
            start += rows
        self._recent: OrderedDict[str, tuple[pa.Table, dict[int, int]]] = OrderedDict()
        self._lock = threading.Lock()  # one reader at a time: a ParquetFile is not shared across threads

    @classmethod
    def open(cls, path: str) -> ExplorerBank:
        with cls._open_lock:
            if path not in cls._opened:
                cls._opened[path] = cls(path)
            return cls._opened[path]

    @classmethod
    def lookup(cls, path: str, prompt_id: str, response_index: int) -> tuple[list[int], list[float]]:
        """One stored response (token ids, log-probs) of the bank at `path`; blocking, run it in a thread."""
        return cls.open(path).get(prompt_id, response_index)

    def get(self, prompt_id: str, response_index: int) -> tuple[list[int], list[float]]:
        table, row_of = self._prompt(prompt_id)
        row = row_of.get(response_index)
        if row is None:
            raise KeyError(f"explorer bank has no response {response_index} of prompt {prompt_id}")
        return table.column("response_token_ids")[row].as_py(), table.column("response_logprobs")[row].as_py()

    def _prompt(self, prompt_id: str) -> tuple[pa.Table, dict[int, int]]:
        with self._lock:
            if prompt_id in self._recent:
                self._recent.move_to_end(prompt_id)
                return self._recent[prompt_id]
            groups = self.groups_of.get(prompt_id)
            if groups is None:
                raise KeyError(f"explorer bank {self.path} has no response of prompt {prompt_id}")
            table = self.file.read_row_groups(groups, columns=["prompt_id", *RESPONSE_COLUMNS])
            table = table.filter(pc.equal(table.column("prompt_id"), prompt_id)).select(RESPONSE_COLUMNS)
            entry = table, {index: row for row, index in enumerate(table.column("response_index").to_pylist())}
            self._recent[prompt_id] = entry
            if len(self._recent) > self.RECENT:
                self._recent.popitem(last=False)
            return entry

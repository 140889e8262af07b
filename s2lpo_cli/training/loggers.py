"""TensorBoard and wandb for embedded runs (`output.logger`), beside metrics.jsonl and the console.

Each receives every physical step's metrics.jsonl record. The x axis is the physical optimizer step,
from 1 (verl's global step; it equals the logical step `step` except in split mode). Every numeric
key is a scalar under its metrics.jsonl name and, where verl logs the same quantity, under verl's
name too (`critic/score/mean`, `actor/pg_clipfrac`, ...), so embedded and verl runs share charts.

TensorBoard: event files in <run>/tensorboard/. Opening them first rewrites what is there into one file
holding the steps the checkpoint covers, each once, with their wall times; what a killed run logged
after its last checkpoint is dropped, as metrics.jsonl's extra lines are. A kill during the rewrite
leaves old and new files side by side, which the next opening merges.
wandb: offline unless WANDB_MODE is set (then wandb's own settings decide), files in <run>/wandb/;
the run id is kept in <run>/wandb_id.txt, so a resumed run continues the same wandb run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from s2lpo_cli.recipe import Recipe
from s2lpo_cli.training.metrics import VERL_METRIC_SOURCES

TENSORBOARD_DIR = "tensorboard"
WANDB_ID = "wandb_id.txt"
EVENT_FILES = "events.out.tfevents.*"


def scalars(metrics: dict[str, Any]) -> dict[str, float]:
    """The record's numeric values under its own names and verl's (the first verl name of each); a dict
    value ({family: share}) gives one scalar per entry, `key/entry`."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if value is None or isinstance(value, str):
            continue
        if isinstance(value, dict):
            out.update({f"{key}/{name}": float(v) for name, v in value.items()})
            continue
        out[key] = float(value)
        verl = VERL_METRIC_SOURCES.get(key)
        if verl and verl[0] not in out:
            out[verl[0]] = float(value)
    return out


class TensorBoardLogger:
    def __init__(self, folder: Path, done: int):
        from torch.utils.tensorboard.writer import FileWriter

        before = sorted(folder.glob(EVENT_FILES))
        self.writer = FileWriter(str(folder))  # creates the folder
        self._copy_steps(before, done)
        for path in before:
            path.unlink()

    def _copy_steps(self, files: list[Path], last_step: int) -> None:
        """Copy the scalar events of steps 1..last_step found in `files` as they are, each (tags, step) once."""
        from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
        from tensorboard.compat.proto.event_pb2 import Event

        seen: set[tuple[int, tuple[str, ...]]] = set()
        for path in files:
            for raw in RawEventFileLoader(str(path)).Load():
                event = Event.FromString(raw)
                key = (event.step, tuple(v.tag for v in event.summary.value))
                if event.HasField("summary") and event.step <= last_step and key not in seen:
                    seen.add(key)
                    self.writer.add_event(event, walltime=event.wall_time)
        self.writer.flush()  # on disk before the old files go

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        from torch.utils.tensorboard.summary import scalar

        for tag, value in scalars(metrics).items():
            self.writer.add_summary(scalar(tag, value), step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class WandbLogger:
    def __init__(self, recipe: Recipe, run_dir: Path):
        import wandb

        id_file = run_dir / WANDB_ID
        if not id_file.is_file():
            id_file.write_text(uuid.uuid4().hex[:8] + "\n", encoding="utf-8")
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "s2lpo"), name=recipe.name, id=id_file.read_text().strip(),
            resume="allow", dir=str(run_dir), config=recipe.model_dump(mode="json"),
            mode=None if os.environ.get("WANDB_MODE") else "offline",
            settings=wandb.Settings(console="off"),  # the console display stays ours
        )

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        self.run.log(scalars(metrics), step=step)

    def close(self) -> None:
        self.run.finish()


class MetricLoggers:
    """The sinks `output.logger` asks for beyond console and jsonl; `log(physical_step, record)`."""

    def __init__(self, sinks: list[Any]):
        self.sinks = sinks

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        for sink in self.sinks:
            sink.log(step, metrics)


@contextmanager
def open_loggers(recipe: Recipe, run_dir: Path, done: int) -> Iterator[MetricLoggers]:
    """The run's TensorBoard / wandb sinks, resuming after `done` physical steps; closed on exit."""
    with ExitStack() as stack:
        sinks: list[Any] = []
        if "tensorboard" in recipe.output.logger:
            sinks.append(TensorBoardLogger(run_dir / TENSORBOARD_DIR, done))
            stack.callback(sinks[-1].close)
        if "wandb" in recipe.output.logger:
            sinks.append(WandbLogger(recipe, run_dir))
            stack.callback(sinks[-1].close)
        yield MetricLoggers(sinks)

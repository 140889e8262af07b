"""Reading TensorBoard event files back: raw, as written, and as TensorBoard shows them."""

from __future__ import annotations


def event_scalars(folder) -> list[tuple[str, int, float, float]]:
    """Every scalar event in the folder's event files, as written: (tag, step, value, wall time)."""
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
    from tensorboard.compat.proto.event_pb2 import Event

    events = [Event.FromString(raw) for path in sorted(folder.glob("events.out.tfevents.*"))
              for raw in RawEventFileLoader(str(path)).Load()]
    return [(v.tag, e.step, v.simple_value, e.wall_time) for e in events if e.HasField("summary") for v in e.summary.value]


def accumulated(folder) -> dict[str, list[tuple[int, float]]]:
    """What TensorBoard itself shows: tag -> [(step, value)]."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder))
    acc.Reload()
    return {tag: [(s.step, s.value) for s in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}

"""The grading worker process: parses each gold once, then judges answers one by one.

Started by grader.py as `main([READ_FD, WRITE_FD])` (or `python -m s2lpo_cli.grading.worker READ_FD WRITE_FD`). Protocol over two pipes:
the worker says `("ready", cpu)` once imported; the parent sends a job `(gold, [answer, ...])`; the worker
replies `("gold", ok, cpu)` once the gold is parsed, then `("answer", correct, status, cpu)` for each answer
in order. `cpu` is the CPU time this process has used so far: the parent's clock for the next reply. It
kills a worker that spends too much CPU time on one reply.
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from multiprocessing.connection import Connection

from math_verify.errors import TimeoutException

from s2lpo_cli.grading.policy import Gold, parse_gold, verdict

GOLD_CACHE_SIZE = 4096


def judge(gold: Gold, answer: str) -> tuple[bool, str]:
    try:
        return verdict(gold, answer), "ok"
    except (Exception, TimeoutException):
        return False, "error"


def serve(inbox: Connection, outbox: Connection) -> None:
    """Answer jobs until the parent closes the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it kills us
    logging.getLogger("math_verify").setLevel(logging.ERROR)  # "timeout disabled": enforced from outside
    outbox.send(("ready", time.process_time()))
    golds: dict[str, Gold | None] = {}
    while True:
        try:
            gold, answers = inbox.recv()
        except (EOFError, OSError):
            return
        if gold not in golds:
            if len(golds) >= GOLD_CACHE_SIZE:
                golds.clear()
            try:
                golds[gold] = parse_gold(gold)
            except (Exception, TimeoutException):
                golds[gold] = None
        parsed = golds[gold]
        outbox.send(("gold", bool(parsed and parsed.parsed), time.process_time()))
        if parsed is None or not parsed.parsed:
            continue
        for answer in answers:
            correct, status = judge(parsed, answer)
            outbox.send(("answer", correct, status, time.process_time()))


def main(argv: list[str]) -> None:
    """Serve over the two pipe descriptors READ_FD WRITE_FD the parent passed."""
    serve(Connection(int(argv[0]), writable=False), Connection(int(argv[1]), readable=False))


if __name__ == "__main__":
    main(sys.argv[1:])

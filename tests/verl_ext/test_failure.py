"""A failed verl run ends with one line: the worker that failed and its error, from verl's own output."""

from s2lpo_cli.verl_ext.failure import failure_summary

# abridged from a real CPU run whose rollout server could not import (ANSI colours as Ray prints them)
ROLLOUT_SERVER_DIED = """\
\x1b[36m(TaskRunnerV1 pid=26300)\x1b[0m LLMServerManager: ['embedded-0']
\x1b[36m(TemporaryActor pid=24645)\x1b[0m Exception raised in creation task: The actor died because of an error raised in \
its creation task, \x1b[36mray::s2lpo_embedded_server_0:EmbeddedRolloutServer.__init__()\x1b[39m (pid=24645, ip=192.0.2.2)
Traceback (most recent call last):
  File "/x/verl/trainer/main_ppo.py", line 160, in run
ray.exceptions.ActorDiedError: The actor died because of an error raised in its creation task, \
\x1b[36mray::s2lpo_embedded_server_0:EmbeddedRolloutServer.__init__()\x1b[39m (pid=24645, ip=192.0.2.2)
  File "/x/s2lpo_cli/verl_ext/cpu/mode.py", line 28, in <module>
ImportError: cannot import name 'ROLLOUT_NAME' from partially initialized module 's2lpo_cli.verl_ext.cpu.rollout'

Set the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace.
"""

WORKER_INIT_FAILED = """\
ray.exceptions.RayTaskError(RuntimeError): \x1b[36mray::TaskRunnerV1.run()\x1b[39m (pid=18515, ip=192.0.2.2)
ray.exceptions.RayTaskError(RuntimeError): \x1b[36mray::WorkerDict.actor_rollout_ref_init_model()\x1b[39m (pid=18755)
  File "/x/torch/distributed/fsdp/_fully_shard/_fsdp_param.py", line 315, in _init_sharded_param
RuntimeError: Cannot access accelerator device when none is available.
"""


def test_names_the_worker_and_the_error():
    assert failure_summary(ROLLOUT_SERVER_DIED) == (
        "verl worker s2lpo_embedded_server_0:EmbeddedRolloutServer.__init__ failed: ImportError: cannot import name "
        "'ROLLOUT_NAME' from partially initialized module 's2lpo_cli.verl_ext.cpu.rollout'")
    assert failure_summary(WORKER_INIT_FAILED) == (
        "verl worker WorkerDict.actor_rollout_ref_init_model failed: RuntimeError: Cannot access accelerator device "
        "when none is available.")


def test_an_error_outside_ray_and_a_clean_log():
    assert failure_summary("Error executing job\nomegaconf.errors.ConfigAttributeError: Key 'x' is not in struct\n") \
        == "verl failed: ConfigAttributeError: Key 'x' is not in struct"
    assert failure_summary("step:1 - actor/loss:0.1\nTraining Progress: 100%\n") is None


def test_a_worker_prefixed_coloured_error_and_a_ray_wrapper_after_it():
    """Ray prefixes a worker's lines with a coloured `(Name pid=N)`; the ActorDiedError the driver prints after the
    cause only wraps it. The worker is the innermost `ray::` frame, the last of three."""
    log = (
        "ray.exceptions.RayTaskError(RuntimeError): \x1b[36mray::TaskRunnerV1.run()\x1b[39m (pid=1)\n"
        "ray.exceptions.RayTaskError(RuntimeError): \x1b[36mray::WorkerDict.init_model()\x1b[39m (pid=2)\n"
        "\x1b[36m(WorkerDict pid=3)\x1b[0m \x1b[36mray::WorkerDict.actor_rollout_ref_init_model()\x1b[39m\n"
        "\x1b[36m(WorkerDict pid=3)\x1b[0m RuntimeError: out of memory\n"
        "ray.exceptions.ActorDiedError: The actor died unexpectedly before finishing this task.\n"
    )
    assert failure_summary(log) == (
        "verl worker WorkerDict.actor_rollout_ref_init_model failed: RuntimeError: out of memory")


def test_a_long_message_is_cut_at_300_characters():
    assert failure_summary("ValueError: " + "x" * 299 + "yz") == "verl failed: ValueError: " + "x" * 299 + "y"

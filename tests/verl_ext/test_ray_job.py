"""A run submitted with `--ray-address` starts: verl's `ray.init` inside the job accepts the job's runtime env.

A small local Ray cluster (one CPU, with the dashboard that serves job submission) gets a job with the
runtime environment `launch` submits. Its entrypoint composes the run's Hydra overrides and calls verl's
own `run_ppo`, which merges `ray_kwargs.ray_init` into `ray.init` as `main_ppo` does; the trainer is
replaced by a probe actor that reports the metrics-log variable it sees.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from s2lpo_cli.recipe import load_recipe
from s2lpo_cli.verl_ext.command import VerlPaths, verl_overrides
from s2lpo_cli.verl_ext.launch import ray_job

pytestmark = [pytest.mark.verl, pytest.mark.ray, pytest.mark.slow]

PROBE = """
import json, os, sys
import ray
import verl
from hydra import compose, initialize_config_dir
from verl.trainer.main_ppo import run_ppo

SEEN = {seen!r}  # written into the script: in a Ray worker, sys.argv is the worker's command line


@ray.remote(num_cpus=0)
class Probe:
    def run(self, config):
        with open(SEEN, "w") as f:
            f.write(os.environ.get("VERL_FILE_LOGGER_PATH", "<unset>"))

overrides = json.load(open(sys.argv[1]))
with initialize_config_dir(config_dir=os.path.join(os.path.dirname(verl.__file__), "trainer", "config"),
                           version_base=None):
    config = compose(config_name="ppo_trainer", overrides=overrides)
run_ppo(config, Probe)
"""


@pytest.fixture(scope="module")
def job_server():
    ray = pytest.importorskip("ray")
    context = ray.init(num_cpus=1, include_dashboard=True, dashboard_host="127.0.0.1", log_to_driver=False,
                       logging_level="ERROR")
    try:
        yield f"http://{context.dashboard_url}"
    finally:
        ray.shutdown()


def test_submitted_job_starts_verl_ray_init_and_every_actor_sees_the_metrics_log(job_server, tmp_path):
    from ray.job_submission import JobStatus, JobSubmissionClient

    recipe = load_recipe("tiny", ["engine.kind=verl", "engine.gpus_per_node=1", "engine.tensor_parallel_size=1",
                                  f"output.run_dir={tmp_path / 'run'}"])
    paths = VerlPaths.for_run(recipe.output.run_dir)
    (tmp_path / "overrides.json").write_text(json.dumps(verl_overrides(recipe, paths)))
    seen = tmp_path / "seen.txt"
    (tmp_path / "probe.py").write_text(PROBE.replace("{seen!r}", repr(str(seen))))
    _, runtime_env = ray_job(Path(recipe.output.run_dir))
    client = JobSubmissionClient(job_server)
    job = client.submit_job(entrypoint=f"{sys.executable} {tmp_path / 'probe.py'} {tmp_path / 'overrides.json'}",
                            runtime_env=runtime_env)
    deadline = time.monotonic() + 240
    while (status := client.get_job_status(job)) not in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED):
        assert time.monotonic() < deadline, f"job still {status} after 240 s:\n{client.get_job_logs(job)[-3000:]}"
        time.sleep(1)
    assert status == JobStatus.SUCCEEDED, client.get_job_logs(job)[-3000:]
    assert seen.is_file(), client.get_job_logs(job)[-3000:]
    assert seen.read_text() == str(paths.metrics)

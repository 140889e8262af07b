"""The verl engine on a CPU (`engine.kind: verl`, `engine.device: cpu`): verl's own trainer, on gloo and logical GPUs.

`settings` (pure) adds the CPU run's Hydra overrides and environment to the verl command; `mode` is
what verl imports in each of its processes (platform, engine, rollout and the two patches, each with
its reason); `platform` and `rollout` are verl extension classes. Nothing here is imported by a GPU run.
"""

import os
from pathlib import Path

import pytest

from s2lpo_cli.atomic import write_text_atomic
from s2lpo_cli.errors import UserError
from s2lpo_cli.evaluation import layout
from s2lpo_cli.evaluation.layout import RunDirs, find_unfinished, model_folder_name, run_dirs_of
from s2lpo_cli.evaluation.settings import EvalSettings, resolve_sampling


@pytest.mark.parametrize(
    "model,name",
    [
        ("Qwen/Qwen3-8B", "Qwen_Qwen3-8B"),
        ("tiny_models/target", "tiny_models_target"),
        ("/abs/runs/s2lpo/final/", "s2lpo_final"),
        ("../../etc/passwd", "etc_passwd"),
        ("..", "model"),
        ("a b:c*?<>|", "a_b_c_"),
        ("C:\\models\\my model", "models_my_model"),
        (".hidden", "hidden"),
        ("org/./model", "org_model"),  # "." and ".." are not name parts
        ("runs/final/..", "runs_final"),
        ("Xwin/LM", "Xwin_LM"),  # only ".", "_" and "-" are stripped in front
        ("m" * 150, "m" * 100),  # at most 100 characters
    ],
    ids=lambda value: "".join(ch if ch.isalnum() else "_" for ch in value),  # no backslash in an id (mutmut)
)
def test_model_names_become_safe_folder_names(model, name):
    assert model_folder_name(model) == name


def test_folder_cannot_escape_the_output_root(tmp_path):
    for model in ("../../x", "/etc", "a/../../..", "~/.ssh"):
        dirs = RunDirs.new(tmp_path, model)
        assert dirs.output.parent == tmp_path / "output"
        assert dirs.result.parent == tmp_path / "result"


def test_new_runs_never_share_a_folder(tmp_path):
    first = RunDirs.new(tmp_path, "m")
    first.output.mkdir(parents=True)
    assert RunDirs.new(tmp_path, "m").output != first.output


def test_write_atomic_replaces_whole_files(tmp_path):
    path = tmp_path / "sub" / "f.json"
    write_text_atomic(path, "one")
    write_text_atomic(path, "two")
    assert path.read_text() == "two"
    assert [p.name for p in path.parent.iterdir()] == ["f.json"]


def _settings(k: int = 2) -> EvalSettings:
    return EvalSettings(model="m", mode="nothink", k=k, sampling=resolve_sampling("nothink"), benchmarks={"toy": None})


def test_an_unreadable_config_names_the_folder_or_the_file(tmp_path):
    dirs = RunDirs.under(tmp_path, "m_1")
    with pytest.raises(UserError, match=rf"^{dirs.output}: no config.txt here; not an `s2lpo eval` output folder$"):
        dirs.read_settings()
    dirs.output.mkdir(parents=True)
    for text, why in (("{", r"Expecting property name"), ("{}", r"'settings'"), ('{"settings": {"x": 1}}', "x")):
        dirs.config_path.write_text(text)
        with pytest.raises(UserError, match=rf"^{dirs.config_path}: not a readable eval config \(.*{why}"):
            dirs.read_settings()
    dirs.write_config(_settings(), {"engine": "scripted"})
    assert dirs.read_settings() == _settings()


def test_resume_takes_an_output_or_result_folder_holding_a_config(tmp_path):
    dirs = RunDirs.under(tmp_path, "m_1")
    message = r": not an eval run folder \(expected output/<run>/ holding config.txt\)$"
    for folder in (dirs.output, tmp_path / "elsewhere" / "m_1"):
        with pytest.raises(UserError, match=rf"^{folder}{message}"):
            run_dirs_of(folder)
    dirs.write_config(_settings(), {})
    assert run_dirs_of(dirs.output) == dirs and run_dirs_of(dirs.result) == dirs


def test_a_new_run_is_named_after_the_model_and_the_time_and_never_reuses_a_folder(tmp_path, monkeypatch):
    formats = []
    monkeypatch.setattr(layout.time, "strftime", lambda fmt: formats.append(fmt) or "20261207_231500")
    first = RunDirs.new(tmp_path, "Qwen/Qwen3-8B")
    assert first == RunDirs(tmp_path / "output" / "Qwen_Qwen3-8B_20261207_231500",
                            tmp_path / "result" / "Qwen_Qwen3-8B_20261207_231500")
    assert formats == ["%Y%m%d_%H%M%S"] and first.name == "Qwen_Qwen3-8B_20261207_231500"
    first.output.mkdir(parents=True)
    second = RunDirs.new(tmp_path, "Qwen/Qwen3-8B")
    assert second.name == "Qwen_Qwen3-8B_20261207_231500_2"
    second.result.mkdir(parents=True)  # a result folder alone also takes the name
    assert RunDirs.new(tmp_path, "Qwen/Qwen3-8B").name == "Qwen_Qwen3-8B_20261207_231500_3"


def test_the_files_of_a_run():
    dirs = RunDirs.under(Path("/r"), "m_1")
    assert (dirs.config_path, dirs.summary_path) == (Path("/r/output/m_1/config.txt"), Path("/r/result/m_1/summary.json"))
    assert (dirs.raw_path("b"), dirs.scored_path("b"), dirs.result_path("b")) == (
        Path("/r/output/m_1/b_raw.jsonl"), Path("/r/output/m_1/b.jsonl"), Path("/r/result/m_1/b.json"))


def test_rerunning_continues_the_newest_unfinished_run_with_the_same_settings(tmp_path):
    settings = _settings()
    assert find_unfinished(tmp_path, settings) is None  # no output folder yet

    def run(name: str, mtime: int, settings: EvalSettings | None = settings, config: str | None = None) -> RunDirs:
        dirs = RunDirs.under(tmp_path, name)
        dirs.output.mkdir(parents=True)
        if settings:
            dirs.write_config(settings, {})
        if config:
            dirs.config_path.write_text(config)
        os.utime(dirs.output, (mtime, mtime))
        return dirs

    run("m_2", 100)
    newest = run("m_1", 200)  # the newest by time, not by name (an older run resumed)
    run("m_3", 250, config="{")  # unreadable config
    run("m_4", 300, _settings(k=3))  # other settings
    finished = run("m_5", 400)
    finished.result.mkdir(parents=True)
    finished.summary_path.write_text("{}")
    run("m_6", 500, settings=None)  # no config
    run("n_1", 600)  # another model's
    assert find_unfinished(tmp_path, settings) == newest

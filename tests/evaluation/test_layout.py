import pytest

from s2lpo_cli.atomic import write_text_atomic
from s2lpo_cli.errors import UserError
from s2lpo_cli.evaluation.layout import RunDirs, model_folder_name, run_dirs_of
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

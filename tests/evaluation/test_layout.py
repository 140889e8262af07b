import pytest

from s2lpo_cli.atomic import write_text_atomic
from s2lpo_cli.evaluation.layout import RunDirs, model_folder_name


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

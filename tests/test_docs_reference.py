"""docs/reference/ is generated from the code (scripts/gen_reference_docs.py) and cannot drift from it."""

import importlib.util
import re
from pathlib import Path

import pytest
import typer
from pydantic import BaseModel, Field

from s2lpo_cli.cli.app import app
from s2lpo_cli.recipe import Recipe

REPO = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("gen_reference_docs", REPO / "scripts" / "gen_reference_docs.py")
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)


def test_the_committed_reference_pages_match_the_code():
    stale = gen.stale_pages(gen.render_pages())
    assert not stale, (
        f"{', '.join(str(p.relative_to(REPO)) for p in stale)} differ from the code: "
        "run `make reference` (python scripts/gen_reference_docs.py) and commit the pages"
    )


def test_a_stale_page_is_named_with_the_command_to_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(gen, "REFERENCE_DIR", tmp_path)
    assert gen.main([]) == 0 and gen.main(["--check"]) == 0
    (tmp_path / "recipe.md").write_text("# Recipe keys\n\nedited by hand\n")
    assert gen.main(["--check"]) == 1
    assert capsys.readouterr().err == f"{tmp_path / 'recipe.md'}: out of date; run `make reference`\n"


def _row(page: str, key: str) -> str:
    return next(line for line in page.splitlines() if line.startswith(f"| `{key}` |"))


def test_recipe_keys_show_type_default_bounds_and_description():
    page = gen.recipe_reference()
    assert _row(page, "rollout.top_p") == "| `rollout.top_p` | number | `1.0` | > 0, ≤ 1 | Nucleus sampling threshold. |"
    assert _row(page, "models.max_model_len").startswith("| `models.max_model_len` | integer or null | `null` | > 0 |")
    assert _row(page, "schedule.mode").startswith("| `schedule.mode` | one of `mixed`, `split` | `\"mixed\"` |  |")
    assert _row(page, "output.logger").startswith(
        "| `output.logger` | list of one of `console`, `jsonl`, `wandb`, `tensorboard` | `[\"console\", \"jsonl\"]` |")
    assert _row(page, "output.run_dir").startswith("| `output.run_dir` | string | `required` |")
    assert "## `optim.kl`" in page and _row(page, "optim.kl.coef").startswith("| `optim.kl.coef` | number | `0.001` | ≥ 0 |")


def test_every_recipe_key_has_a_row():
    page = gen.recipe_reference()

    def keys(model: type[BaseModel], prefix: str = "") -> list[str]:
        out = []
        for name, info in model.model_fields.items():
            ann = info.annotation
            sub = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
            out += keys(sub, f"{prefix}{name}.") if sub else [f"{prefix}{name}"]
        return out

    expected = keys(Recipe)
    assert len(expected) >= 50  # 50 keys today
    assert [k for k in expected if f"| `{k}` |" not in page] == []


def test_a_new_recipe_section_appears_without_touching_the_generator():
    class Every(BaseModel):
        every: int = Field(0, ge=0, description="Validate every K steps (0: never).")
        benchmarks: list[str] = Field(default_factory=lambda: ["math500"], description="What to validate on.")

    class WithValidation(Recipe):
        validation: Every = Field(default_factory=Every, description="Held-out accuracy during training.")

    page = gen.recipe_reference(WithValidation)
    section = page[page.index("## `validation`"):]
    assert section.splitlines()[2] == "Held-out accuracy during training."
    assert _row(section, "validation.every") == "| `validation.every` | integer | `0` | ≥ 0 | Validate every K steps (0: never). |"
    assert _row(section, "validation.benchmarks").startswith("| `validation.benchmarks` | list of string | `[\"math500\"]` |")


def test_every_command_and_option_of_the_app_is_in_the_cli_reference():
    page = gen.cli_reference()
    sections = dict(re.findall(r"^## `(s2lpo[^`]*)`\n(.*?)(?=^## |\Z)", page, flags=re.M | re.S))
    assert set(sections) == {"s2lpo", "s2lpo sample", "s2lpo train", "s2lpo eval", "s2lpo report", "s2lpo recipe",
                             "s2lpo recipe list", "s2lpo recipe show", "s2lpo recipe validate", "s2lpo recipe schema",
                             "s2lpo tiny", "s2lpo tiny init"}

    def walk(cmd, path):
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, f"{path} {name}")
        for param in getattr(cmd, "params", []):
            if param.name != "help":
                yield path, param

    for path, param in walk(typer.main.get_command(app), "s2lpo"):
        shown = f"`{param.opts[0]}`" if param.param_type_name == "option" else f"`{param.name.upper()}`"
        assert shown in sections[path], f"{path}: {shown} missing"


def test_cli_options_show_choices_defaults_bounds_and_the_help_examples():
    page = gen.cli_reference()
    assert _row(page, "--ray-backend").startswith("| `--ray-backend` | one of `auto`, `vllm`, `embedded` | `\"auto\"` |")
    assert _row(page, "--shard-size").startswith("| `--shard-size` | integer (≥ 1) | — |")
    assert _row(page, "--model`, `-m").startswith("| `--model`, `-m` | string | — | Model folder (HF format)")
    # the epilog's examples, a trailing "  (note)" turned into a shell comment
    assert "s2lpo sample --explorer Qwen3-1.7B  # the recipe naming it: 1.7b_8b\n" in page
    assert "```text\ns2lpo train [OPTIONS] RECIPE\n```" in page
    assert "```text\ns2lpo report [OPTIONS] RUN_DIRS...\n```" in page


@pytest.mark.parametrize("text, markdown", [
    ("rollouts/<explorer>_<dataset>", "rollouts/&lt;explorer&gt;_&lt;dataset&gt;"),
    ("where `s2lpo report <run>` finds it", "where `s2lpo report <run>` finds it"),
    ("eval_data/*.yaml", "eval_data/\\*.yaml"),
])
def test_text_from_the_code_is_read_literally_outside_code_spans(text, markdown):
    assert gen.prose(text) == markdown


def test_every_registered_benchmark_and_training_set_is_listed():
    page = gen.registries_reference()
    for name in ("aime24", "aime25", "math500", "commonsenseqa", "synthetic", "math_train", "dapo17k"):
        assert f"| `{name}` | 1 |" in page and f"**`{name}`**: " in page
    assert _row(page, "commonsenseqa") == (
        "| `commonsenseqa` | 1 | choice | on request | `commonsenseqa.jsonl` | `tau/commonsense_qa` (validation) |")
    assert _row(page, "dapo17k").endswith("| `BytedTsinghua-SIA/DAPO-Math-17k` (train) | dropped (same question) |")

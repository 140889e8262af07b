"""Write docs/reference/ from the code (`make reference`): the CLI, the recipe keys, the data registries.

    python scripts/gen_reference_docs.py          # rewrite the pages
    python scripts/gen_reference_docs.py --check  # exit 1, naming the stale pages, when they differ

The pages are generated so that they cannot drift: tests/test_docs_reference.py regenerates them in
memory and fails when a committed page differs. Nothing here is hand-kept per key or per option: a new
recipe section, option or registry entry appears by itself.
"""

from __future__ import annotations

import enum
import json
import re
import sys
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import typer
import yaml
from pydantic import BaseModel

from s2lpo_cli.cli.app import app
from s2lpo_cli.data.benchmarks import EVAL_DATA_DIR, BenchmarkSpec
from s2lpo_cli.data.train_sets import TRAIN_DATA_DIR, TrainSetSpec
from s2lpo_cli.prompting import DEFAULT_INSTRUCTION
from s2lpo_cli.recipe import Recipe

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "docs" / "reference"
COMMAND = "make reference"  # or: python scripts/gen_reference_docs.py


def _header(title: str, source: str) -> list[str]:
    return [f"# {title}", "",
            f"<!-- Generated from {source} by scripts/gen_reference_docs.py; do not edit: run `{COMMAND}`. -->", ""]


def prose(text: str) -> str:
    """Code's text as Markdown: `<run>`, `*` read literally outside code spans (not as HTML, emphasis)."""
    parts = " ".join(str(text).split()).split("`")
    for i in range(0, len(parts), 2):  # outside backticks
        parts[i] = parts[i].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("*", "\\*")
    return "`".join(parts)


def _cell(text: str) -> str:
    """Text for a Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _table(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


# ---------------------------------------------------------------- types, defaults, constraints

_BASIC = {int: "integer", float: "number", str: "string", bool: "boolean", Path: "path", Any: "any"}


def type_name(ann: Any, none_word: str | None = "null") -> str:
    """A reader's name for a type: `integer`, `one of 'a', 'b'`, `list of string`, `string or null`."""
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin is typing.Annotated:
        return type_name(args[0], none_word)
    if origin is Literal:
        return "one of " + ", ".join(f"`{v}`" for v in args)
    if isinstance(ann, type) and issubclass(ann, enum.Enum):
        return "one of " + ", ".join(f"`{m.value}`" for m in ann)
    if origin in (typing.Union, types.UnionType):
        names = [type_name(a, none_word) for a in args if a is not type(None)]
        if type(None) in args and none_word:
            names.append(none_word)
        return " or ".join(names)
    if origin is list:
        return f"list of {type_name(args[0], none_word)}"
    if origin is dict:
        return f"mapping of {type_name(args[0], none_word)} to {type_name(args[1], none_word)}"
    return _BASIC.get(ann, getattr(ann, "__name__", str(ann)))


def constraints(metadata: list[Any]) -> str:
    """Bounds from pydantic/annotated-types metadata: `> 0`, `≥ 0, ≤ 1`."""
    symbols = (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤"), ("min_length", "length ≥"),
               ("max_length", "length ≤"), ("multiple_of", "multiple of"), ("min", "≥"), ("max", "≤"))
    found = [f"{sym} {getattr(m, attr)}" for m in metadata for attr, sym in symbols
             if getattr(m, attr, None) is not None]
    return ", ".join(found)


def yaml_value(value: Any) -> str:
    """A default as it would be written in YAML/JSON: null, true, 1e-06, "token-mean", ["console"]."""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, Path):
        value = str(value)
    return json.dumps(value, ensure_ascii=False)


# ---------------------------------------------------------------- pydantic models (recipe, registry specs)


def _submodel(ann: Any) -> type[BaseModel] | None:
    """The model of a section field (`X` or `X | None`), else None."""
    candidates = [a for a in (typing.get_args(ann) or (ann,)) if a is not type(None)]
    if len(candidates) == 1 and isinstance(candidates[0], type) and issubclass(candidates[0], BaseModel):
        return candidates[0]
    return None


def _default(info: Any) -> str:
    if info.is_required():
        return "required"
    return yaml_value(info.default_factory() if info.default_factory else info.default)


def model_sections(model: type[BaseModel], prefix: str = "", doc: str = "") -> Iterator[tuple[str, str, list]]:
    """(dotted prefix, what the section is, [(key, type, default, constraints, description)]), depth first."""
    rows, subs = [], []
    for name, info in model.model_fields.items():
        sub = _submodel(info.annotation)
        if sub is not None:
            subs.append((sub, f"{prefix}{name}", info.description or sub.__doc__ or ""))
            continue
        rows.append((f"`{prefix}{name}`", type_name(info.annotation), f"`{_default(info)}`",
                     constraints(info.metadata), prose(info.description or "")))
    yield prefix.rstrip("."), doc, rows
    for sub, path, sub_doc in subs:
        yield from model_sections(sub, f"{path}.", sub_doc)


def model_tables(model: type[BaseModel], level: str = "##", top: str = "Top level") -> list[str]:
    lines: list[str] = []
    for section, doc, rows in model_sections(model):
        if not rows:
            continue
        lines += [f"{level} {f'`{section}`' if section else top}", ""]
        if doc:
            lines += [prose(doc), ""]
        lines += _table(("key", "type", "default", "constraints", "description"), rows)
    return lines


def recipe_reference(model: type[BaseModel] = Recipe) -> str:
    lines = _header("Recipe keys", "the pydantic models in s2lpo_cli/recipe.py")
    lines += [
        "Every key a recipe may hold, section by section. Unknown keys are errors; `required` keys have no",
        "default. Precedence: these defaults < the recipe YAML < `--set a.b=value`, validated once after",
        "merging. The rules that tie several keys together (batch divisibility, context length) are on",
        "[Recipes](../recipes.md#cross-field-rules). `s2lpo recipe schema` prints the JSON schema for editors.",
        "",
        *model_tables(model),
    ]
    return "\n".join(lines).rstrip() + "\n"


# ---------------------------------------------------------------- the CLI (Typer app)


def _usage(path: list[str], cmd: Any) -> str:
    if hasattr(cmd, "commands"):
        return " ".join(path) + " COMMAND"
    parts = list(path)
    if any(not _is_argument(p) and p.name != "help" for p in cmd.params):
        parts.append("[OPTIONS]")
    for p in cmd.params:
        if _is_argument(p):
            parts.append(p.name.upper() + ("..." if p.nargs == -1 else ""))
    return " ".join(parts)


def _is_argument(param: Any) -> bool:
    return param.param_type_name == "argument"


def _examples(epilog: str | None) -> list[str]:
    """The epilog's examples (`Examples: a  |  b (why)`) as shell lines, a trailing `  (note)` as a comment."""
    if not epilog:
        return []
    body = re.sub(r"^Examples?:\s*", "", epilog.strip())
    lines = []
    for example in (e.strip() for e in body.split("  |  ")):
        match = re.fullmatch(r"(.*?)\s{2,}\((.*)\)", example)
        lines.append(f"{match[1]}  # {match[2]}" if match else example)
    return lines


def _param_rows(cmd: Any) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    hints = typing.get_type_hints(cmd.callback, include_extras=True) if cmd.callback else {}
    arguments, options = [], []
    for p in cmd.params:
        if p.name == "help":
            continue
        kind = type_name(hints.get(p.name, str), none_word=None)
        bounds = constraints([p, getattr(p, "type", None)])  # Typer >= 0.29 keeps min/max on the parameter, click on its type
        kind = f"{kind} ({bounds})" if bounds else kind
        if _is_argument(p):
            arguments.append((f"`{p.name.upper()}`", kind, "yes" if p.required else "no", prose(p.help or "")))
            continue
        names = ", ".join(f"`{o}`" for o in [*p.opts, *p.secondary_opts])
        if p.required:
            default = "required"
        elif p.default is None or p.default == () or p.default == []:
            default = "—"
        else:
            default = f"`{yaml_value(p.default)}`"
        options.append((names, "flag" if p.is_flag else kind, default, prose(p.help or "")))
    return arguments, options


def _commands(cmd: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    yield path, cmd
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from _commands(sub, [*path, name])


def cli_reference() -> str:
    root = typer.main.get_command(app)
    lines = _header("CLI reference", "the Typer app in s2lpo_cli/cli/")
    lines += [
        "Every command and subcommand of `s2lpo`, with its options and the examples of its `--help`.",
        "Every command also takes `--help`. A user mistake prints one red line and exits with code 2",
        "(`S2LPO_DEBUG=1` shows the traceback). Results go to stdout, progress and logs to stderr.",
        "",
    ]
    for path, cmd in _commands(root, ["s2lpo"]):
        lines += [f"## `{' '.join(path)}`", "", f"```text\n{_usage(path, cmd)}\n```", ""]
        if cmd.help:
            lines += [prose(par) + "\n" for par in cmd.help.strip().split("\n\n")]
        if hasattr(cmd, "commands"):
            lines += _table(("command", "what it does"),
                            [(f"[`{name}`](#{'-'.join([*path, name])})", prose(sub.get_short_help_str(limit=200)))
                             for name, sub in cmd.commands.items()])
        else:
            arguments, options = _param_rows(cmd)
            if arguments:
                lines += ["**Arguments**", "", *_table(("argument", "type", "required", "help"), arguments)]
            if options:
                lines += ["**Options**", "", *_table(("option", "type", "default", "help"), options)]
        examples = _examples(cmd.epilog)
        if examples:
            lines += ["**Examples**", "", "```bash", *examples, "```", ""]
    return "\n".join(lines).rstrip() + "\n"


# ---------------------------------------------------------------- registries (eval_data/, train_data/)


def _comment(path: Path) -> str:
    """The comment a spec file opens with, as one paragraph."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(lines)


def _specs(folder: Path) -> Iterator[tuple[Path, dict]]:
    for path in sorted(folder.glob("*.yaml")):
        yield path, yaml.safe_load(path.read_text(encoding="utf-8"))


def _hub(data: dict) -> str:
    hub = data.get("hub")
    return f"`{hub['dataset']}` ({hub['split']})" if hub else "—"


def registries_reference() -> str:
    lines = _header("Benchmarks and training sets", "eval_data/*.yaml and train_data/*.yaml")
    lines += [
        "The registered benchmarks (`s2lpo eval --benchmarks NAME`) and training sets (a recipe's `data.train`,",
        "`s2lpo sample --dataset NAME`), one YAML file each. A registered set is read from a local file when it",
        "exists (under `--data-dir`, a recipe's `data.data_dir`, or `$S2LPO_DATA_DIR`), else from its Hugging Face",
        "dataset when the `datasets` package is installed. Add one by adding a YAML file with the keys below.",
        "",
        "## Benchmarks (`eval_data/`)",
        "",
    ]
    benches = list(_specs(EVAL_DATA_DIR))
    for _, data in benches:
        BenchmarkSpec.model_validate(data)  # the registry's own check: a malformed spec fails here too
    lines += _table(
        ("name", "version", "answer type", "default", "local file", "hub dataset (split)"),
        [(f"`{d['name']}`", str(d["version"]), d["answer_type"], "yes" if d.get("default", True) else "on request",
          f"`{d['file']}`", _hub(d)) for _, d in benches],
    )
    for path, data in benches:
        lines += [f"**`{data['name']}`**: {prose(_comment(path))}", ""]
        if data.get("instruction", DEFAULT_INSTRUCTION) != DEFAULT_INSTRUCTION:
            lines += [f"Instruction: `{data['instruction']}`", ""]
    lines += ["## Training sets (`train_data/`)", ""]
    sets = list(_specs(TRAIN_DATA_DIR))
    for _, data in sets:
        TrainSetSpec.model_validate(data)
    lines += _table(
        ("name", "version", "answer type", "rows from", "hub dataset (split)", "duplicates"),
        [(f"`{d['name']}`", str(d["version"]), d["answer_type"],
          f"generated in code (`{d['generated']}`)" if d.get("generated") else f"`<data_dir>/{d['file']}.jsonl` or `.parquet`",
          _hub(d), "dropped (same question)" if d["dedup"] == "question" else "kept") for _, d in sets],
    )
    for path, data in sets:
        lines += [f"**`{data['name']}`**: {prose(_comment(path))}", ""]
    lines += ["## Spec keys", "", "### A benchmark (`eval_data/NAME.yaml`)", "",
              *model_tables(BenchmarkSpec, "####", "Keys"),
              "### A training set (`train_data/NAME.yaml`)", "", *model_tables(TrainSetSpec, "####", "Keys")]
    return "\n".join(lines).rstrip() + "\n"


PAGES: dict[str, Callable[[], str]] = {
    "cli.md": cli_reference,
    "recipe.md": recipe_reference,
    "registries.md": registries_reference,
}


def render_pages() -> dict[Path, str]:
    return {REFERENCE_DIR / name: render() for name, render in PAGES.items()}


def stale_pages(pages: dict[Path, str]) -> list[Path]:
    return [path for path, text in pages.items() if not path.is_file() or path.read_text(encoding="utf-8") != text]


def main(argv: list[str]) -> int:
    pages = render_pages()
    if "--check" in argv:
        stale = stale_pages(pages)
        for path in stale:
            print(f"{path}: out of date; run `{COMMAND}`", file=sys.stderr)
        return 1 if stale else 0
    REFERENCE_DIR.mkdir(parents=True, exist_ok=True)
    for path, text in pages.items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

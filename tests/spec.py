"""The suite read as a spec: ``docs/spec.md``, generated from the collected tests by ``make spec``.

``make spec`` runs ``python -m tests.spec``. Every test is listed by layer and module, its name read as
a sentence (``test_ping_gets_pong`` → "ping gets pong"), with its docstring's first paragraph if it has
one, and the ids of its parameters. ``--check`` compares instead of writing; ``tests/unit/test_spec.py``
does the same in the unit layer. The tests are collected by pytest itself, in a child process that
loads this module as a plugin (``-p tests.spec``).
"""

import argparse
import ast
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SPEC_PATH = PROJECT_ROOT / "docs" / "spec.md"
#: Where the plugin writes what it collected (set by ``collect`` for the child pytest).
OUTPUT_ENV = "TESTS_SPEC_OUTPUT"
LAYERS = ("unit", "integration", "e2e")


@dataclass(frozen=True)
class CollectedTest:
    """One collected test: where it is, its function's name and docstring, its parameters' id."""

    layer: str
    module: str
    name: str
    doc: str
    param_id: str | None


def first_paragraph(doc: str | None) -> str:
    """A docstring's first paragraph, on one line."""
    if not doc:
        return ""
    paragraph = doc.strip().split("\n\n")[0]
    return " ".join(line.strip() for line in paragraph.splitlines())


def as_sentence(test_name: str) -> str:
    """``test_ping_gets_pong`` → ``ping gets pong``."""
    return test_name.removeprefix("test_").replace("_", " ")


def pytest_collection_finish(session: pytest.Session) -> None:
    """(As a plugin) write every collected test to the file ``TESTS_SPEC_OUTPUT`` names."""
    output = os.environ.get(OUTPUT_ENV)
    if not output:
        return
    tests = []
    for item in session.items:
        assert isinstance(item, pytest.Function)
        path = item.path.relative_to(PROJECT_ROOT)
        tests.append(
            {
                "layer": path.parts[1],
                "module": path.as_posix(),
                "name": item.originalname,
                "doc": first_paragraph(item.function.__doc__),
                "param_id": item.callspec.id if hasattr(item, "callspec") else None,
            }
        )
    Path(output).write_text(json.dumps(tests), encoding="utf-8")


def collect() -> list[CollectedTest]:
    """Every test pytest collects, in collection order (a child ``pytest --collect-only``)."""
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "collected.json"
        # A mutmut run's active mutant (MUTANT_UNDER_TEST) is not the child's business.
        env = {k: v for k, v in os.environ.items() if k != "MUTANT_UNDER_TEST"} | {OUTPUT_ENV: str(output)}
        command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "tests.spec", "-p", "no:cacheprovider"]
        done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not output.exists():
            raise RuntimeError(f"collecting the tests failed:\n{done.stdout}{done.stderr}")
        return [CollectedTest(**test) for test in json.loads(output.read_text(encoding="utf-8"))]


def module_doc(module: str) -> str:
    """The first paragraph of a test module's docstring."""
    tree = ast.parse((PROJECT_ROOT / module).read_text(encoding="utf-8"))
    return first_paragraph(ast.get_docstring(tree))


def layer_descriptions() -> dict[str, str]:
    """Each layer's one-line description: its marker's, from pyproject.toml."""
    import tomllib

    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    markers: list[str] = config["tool"]["pytest"]["ini_options"]["markers"]
    described = dict(marker.split(": ", 1) for marker in markers)
    return {layer: described.get(layer, "") for layer in LAYERS}


def grouped(tests: Iterable[CollectedTest]) -> dict[str, dict[str, dict[str, list[CollectedTest]]]]:
    """Tests by layer, then module, then function (parametrized cases together), in collection order."""
    by_layer: dict[str, dict[str, dict[str, list[CollectedTest]]]] = {layer: {} for layer in LAYERS}
    for test in tests:
        by_layer.setdefault(test.layer, {}).setdefault(test.module, {}).setdefault(test.name, []).append(test)
    return by_layer


def render(tests: Sequence[CollectedTest]) -> str:
    """The spec as markdown."""
    descriptions = layer_descriptions()
    functions = sum(len(by_name) for modules in grouped(tests).values() for by_name in modules.values())
    lines = [
        "# The spec: what the tests say",
        "",
        "<!-- Generated from the collected tests by `make spec` (python -m tests.spec); do not edit by hand. -->",
        "",
        f"{len(tests)} tests ({functions} test functions), by layer and module; each test's name read as a",
        "sentence, with its docstring's first paragraph where it has one, and its parameters' ids in brackets.",
    ]
    for layer, modules in grouped(tests).items():
        if not modules:
            continue
        description = descriptions.get(layer, "")
        lines += ["", f"## {layer}", "", f"{description[:1].upper()}{description[1:]}."]
        for module, by_name in modules.items():
            lines += ["", f"### `{module}`", "", module_doc(module), ""]
            for name, cases in by_name.items():
                line = f"- {as_sentence(name)}"
                ids = [case.param_id for case in cases if case.param_id is not None]
                if ids:
                    line += " [" + " | ".join(ids) + "]"
                if cases[0].doc:
                    line += f" — {cases[0].doc}"
                lines.append(line)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write docs/spec.md, or with ``--check`` fail (1) if it is not what the tests say now."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="compare docs/spec.md with the tests instead of writing it"
    )
    options = parser.parse_args(argv)
    spec = render(collect())
    if options.check:
        current = SPEC_PATH.read_text(encoding="utf-8") if SPEC_PATH.exists() else ""
        if current != spec:
            sys.stderr.write("docs/spec.md is stale: regenerate it with `make spec`\n")
            return 1
        return 0
    SPEC_PATH.parent.mkdir(exist_ok=True)
    SPEC_PATH.write_text(spec, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The suite read as a spec: ``docs/spec.md``, generated from the collected tests by ``make spec``.

``make spec`` runs ``python -m tests.spec``. The spec opens with an index: each promise the README and ``docs/``
make under "The protocol" (the README's and ``docs/protocol.md``'s), "Who may connect" and "Healing without a human",
with the tests that prove it, under a link to the heading it lives under (``tests/spec_index.py``, reviewed by hand;
a test it names that is no longer collected fails the run).
Then every test, layer by layer from the outside in (e2e, integration, contract, unit), by module: its
name read as a sentence (``test_ping_gets_pong`` → "ping gets pong", ``arqs`` → "ARQ's"), with its
docstring's first paragraph if it has one, and the ids of its parameters. ``--check`` compares instead of
writing; ``tests/unit/repository/test_spec.py`` does the same in the unit layer. The tests are collected by pytest
itself, in a child process that loads this module as a plugin (``-p tests.spec``).
"""

import argparse
import ast
import json
import os
import posixpath
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.spec_index import INDEX

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SPEC_PATH = PROJECT_ROOT / "docs" / "spec.md"
#: Where the plugin writes what it collected (set by ``collect`` for the child pytest).
OUTPUT_ENV = "TESTS_SPEC_OUTPUT"
#: From the outside in: the protocol over real sockets first, the internals last.
LAYERS = ("e2e", "integration", "contract", "unit")
#: Words a test name cannot spell (no apostrophes, hyphens or capitals in a Python name), as a sentence
#: says them. Reviewed by hand: only phrases whose every use in the suite's names is the one restored.
SPELLED_OUT = {
    "arqs": "ARQ's",
    "chanxs": "chanx's",
    "redis pys": "redis-py's",
    "redis py": "redis-py",
    "fast channels own": "fast-channels' own",
    "fast channels": "fast-channels",
    "channels queue": "channel's queue",
    "fast paths": "fast path's",
    "start devs": "start_dev's",
    "start dev": "start_dev",
    "apps": "app's",
    "anothers": "another's",
    "others jobs": "other's jobs",
    "seeds": "seed's",
    "job types result": "job type's result",
    "job ids type": "job id's type",
    "ids prefix": "id's prefix",
    "readmes": "README's",
    "the servers": "the server's",
    "the workers": "the worker's",
    "the queues": "the queue's",
    "job queues pool": "job queue's pool",
    "job queues enqueues": "job queue's enqueues",
    "pools": "pool's",
    "the jobs id": "the job's id",
    "its jobs result": "its job's result",
    "claimed jobs": "claimed job's",
    "running jobs progress": "running job's progress",
    "streaming jobs": "streaming job's",
    "another sockets": "another socket's",
    "consumers redis layer": "consumer's redis layer",
    "the channel layers": "the channel layer's",
    "pubsub layers": "pubsub layer's",
    "dead masters": "dead master's",
    "app services environment": "app service's environment",
    "web services health": "web service's health",
    "the images is": "the image's is",
    "a commands error": "a command's error",
    "the pages script": "the page's script",
    "the domains subdomains": "the domain's subdomains",
    "supervisors": "supervisor's",
    "another users": "another user's",
    "a users": "a user's",
    "its users": "its user's",
    "the users jobs": "the user's jobs",
    "open sockets lease": "open socket's lease",
    "open sockets leases": "open sockets' leases",
    "queued jobs reservation": "queued job's reservation",
    "finished jobs reservation": "finished job's reservation",
    "the tokens sub": "the token's sub",
    "the tokens exp": "the token's exp",
    "its tokens expiry": "its token's expiry",
    "python m src worker": "python -m src.worker",
}
_SPELLED_OUT = re.compile(r"\b(" + "|".join(sorted(map(re.escape, SPELLED_OUT), key=len, reverse=True)) + r")\b")


@dataclass(frozen=True)
class CollectedTest:
    """One collected test: where it is, its function's name and docstring, its parameters' id."""

    layer: str
    module: str
    name: str
    doc: str
    param_id: str | None


class IndexRotted(Exception):
    """The index (``tests/spec_index.py``) names a test that is not collected, or a promise with no test."""


def first_paragraph(doc: str | None) -> str:
    """A docstring's first paragraph, on one line."""
    if not doc:
        return ""
    paragraph = doc.strip().split("\n\n")[0]
    return " ".join(line.strip() for line in paragraph.splitlines())


def as_sentence(test_name: str) -> str:
    """``test_ping_gets_pong`` → ``ping gets pong``; the words of ``SPELLED_OUT`` as a sentence spells them."""
    words = test_name.removeprefix("test_").replace("_", " ")
    return _SPELLED_OUT.sub(lambda found: SPELLED_OUT[found.group(1)], words)


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
    """Tests by layer (``LAYERS``' order), then module, then function (parametrized cases together).

    Within a layer, the modules directly in its folder come first, then those of its subfolders (``tests/unit``'s
    mirror ``src/``'s); each in collection order, as the functions are.
    """
    by_layer: dict[str, dict[str, dict[str, list[CollectedTest]]]] = {layer: {} for layer in LAYERS}
    for test in tests:
        by_layer.setdefault(test.layer, {}).setdefault(test.module, {}).setdefault(test.name, []).append(test)
    return {
        layer: dict(sorted(modules.items(), key=lambda module: module[0].count("/") > 2))
        for layer, modules in by_layer.items()
    }


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: its text (a link as its text) lower-cased, punctuation dropped, spaces
    as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchor(module: str) -> str:
    """The link target of a module's heading (``### `tests/e2e/test_x.py` ``), as GitHub makes it."""
    return "#" + slug(module)


def section_link(section: str) -> str:
    """An index section (``docs/operating.md#Healing without a human``) as a link from ``docs/spec.md`` to that
    heading of that document: ``[Healing without a human](operating.md#healing-without-a-human)``."""
    document, _, heading = section.partition("#")
    target = posixpath.relpath(document, SPEC_PATH.parent.relative_to(PROJECT_ROOT).as_posix())
    return f"[{heading}]({target}#{slug(heading)})"


def check_index(index: Mapping[str, Mapping[str, Sequence[str]]], tests: Iterable[CollectedTest]) -> None:
    """Raise ``IndexRotted`` naming every test the index names that is not collected, and every empty promise."""
    collected = {f"{test.module}::{test.name}" for test in tests}
    problems = []
    for section, promises in index.items():
        for promise, node_ids in promises.items():
            if not node_ids:
                problems.append(f"{section}: {promise!r} names no test")
            problems += [f"{section}: {promise!r} names {node_id}" for node_id in node_ids if node_id not in collected]
    if problems:
        raise IndexRotted(
            "tests/spec_index.py names tests that are not collected (renamed or removed?); point it at the tests"
            " that prove each promise now:\n  " + "\n  ".join(problems)
        )


def layer_rank(node_id: str) -> int:
    """Where a test's layer comes in ``LAYERS`` (a layer not there, after them)."""
    layer = node_id.split("/")[1]
    return LAYERS.index(layer) if layer in LAYERS else len(LAYERS)


def render_index(index: Mapping[str, Mapping[str, Sequence[str]]]) -> list[str]:
    """The index's lines: per section of the README or ``docs/``, each promise and the tests proving it, outside in."""
    lines = [
        "## Index: the promises of the README and docs/, and the tests that prove them",
        "",
        "Each promise the README and docs/ make, in their words (shortened), under the heading it lives under, with",
        "the tests that prove it, e2e first; the mapping is `tests/spec_index.py`. Every test is listed with its",
        "module below.",
    ]
    for section, promises in index.items():
        lines += ["", f"### {section_link(section)}", ""]
        for promise, node_ids in promises.items():
            lines.append(f"- {promise}")
            for node_id in sorted(node_ids, key=layer_rank):
                module, name = node_id.split("::")
                lines.append(f"  - [`{module.removeprefix('tests/')}`]({anchor(module)}) :: {as_sentence(name)}")
    return lines


def render(tests: Sequence[CollectedTest], index: Mapping[str, Mapping[str, Sequence[str]]] | None = None) -> str:
    """The spec as markdown, opening with ``index`` (by default ``INDEX``); ``IndexRotted`` if it names a test
    that is not among ``tests``."""
    index = INDEX if index is None else index
    check_index(index, tests)
    descriptions = layer_descriptions()
    functions = sum(len(by_name) for modules in grouped(tests).values() for by_name in modules.values())
    layers = [layer for layer, modules in grouped(tests).items() if modules]
    lines = [
        "# The spec: what the tests say",
        "",
        "<!-- Generated from the collected tests by `make spec` (python -m tests.spec); do not edit by hand. -->",
        "",
        f"{len(tests)} tests ({functions} test functions). First an index of the promises the README and docs/ make",
        "and the tests that prove them; then every test by layer, from the outside in",
        f"({', '.join(layers)}), and by module: its name read as a sentence, with its docstring's first paragraph",
        "where it has one, and its parameters' ids in brackets.",
        "",
    ]
    lines += render_index(index)
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
    """Write docs/spec.md, or with ``--check`` fail (1) if it is not what the tests say now; 2 if the index rotted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="compare docs/spec.md with the tests instead of writing it"
    )
    options = parser.parse_args(argv)
    try:
        spec = render(collect())
    except IndexRotted as rotted:
        sys.stderr.write(f"make spec: {rotted}\n")
        return 2
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

"""Mutation testing of ``src/`` with mutmut, and the score it reaches: ``python scripts/mutation.py``.

``tox -e mutation`` runs this. It runs ``mutmut run`` (configured in pyproject.toml's ``[tool.mutmut]``:
the unit layer and the in-process integration tests), then reports: the mutants per status, the score
(killed / all mutants), and every survivor not listed in ``docs/mutation.md`` as equivalent. It fails
when the score is under ``--fail-under`` (95) or a survivor is unexplained.

``python scripts/mutation.py run src.settings.x_normalized_origin*`` re-runs chosen mutants;
``python scripts/mutation.py report`` reports on the last run; ``survivors [globs]`` prints the diff of
each unexplained survivor; mutmut's own commands (``show``, ``browse``, ``results``) go through
``python scripts/mutation.py mutmut show <name>``.

Our package is imported as ``src``, which mutmut 3 takes for a source-layout folder: it names mutants
of ``src/settings.py`` ``settings.x_…`` while the code runs as ``src.settings``, so no mutant would
ever be active, and it refuses trampoline hits whose module starts with ``src.``. The patches below
keep the ``src.`` prefix in mutants' names and put only ``mutants/`` (not ``mutants/src``) on the
import path. mutmut checks the result itself before it mutates anything: with every trampoline made
to raise (its forced-fail run), some test must fail, which it does only if the tests run the mutated copy.

mutmut 3 does not mutate decorated functions (but under a lone ``staticmethod`` or ``classmethod``): its copies of
one would run the decorator again. Another patch lets the decorators of ``DECORATORS_LET_THROUGH`` through (chanx's
handler decorators, properties, pydantic's validators): their functions are mutated, the decorators applied once, to
the trampoline only (``let_decorators_through``). mutmut regenerates only the files that changed since its last
run: after changing that list, delete ``mutants/``.
"""

import argparse
import fnmatch
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any, TextIO

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MUTANTS_DIR = PROJECT_ROOT / "mutants"
EQUIVALENTS_DOC = PROJECT_ROOT / "docs" / "mutation.md"
#: A mutant's name as mutmut prints it and docs/mutation.md lists it.
MUTANT_NAME = re.compile(r"src\.[\w.ǁ]+__mutmut_\d+")
#: mutmut's verdicts that count as the tests detecting the mutant.
DETECTED = ("killed", "timeout", "caught by type check", "segfault")
#: tests/support/processes.py's switch that fails a test starting a process (they are not selected here).
NO_PROCESSES_ENV = "TESTS_START_NO_PROCESSES"
#: Decorators whose functions mutmut mutates all the same (it leaves every other decorated function alone), by name as
#: written, called or not (``ws_handler`` stands for ``@ws_handler`` and ``@ws_handler(...)``). Each is applied once,
#: to mutmut's trampoline, which has the function's name, annotations and signature (see ``let_decorators_through``):
#: a decorator belongs here if that is all it reads of the function, and what it gives back calls it. chanx's handler
#: decorators (they register a handler under its message's action), ``property`` and ``cached_property``, pydantic's
#: validators (``classmethod`` beneath them is let through with them).
DECORATORS_LET_THROUGH = frozenset(
    {"ws_handler", "event_handler", "property", "cached_property", "field_validator", "model_validator"}
)
#: The decorators mutmut mutates under by itself when one of them is a function's only decorator.
MUTMUTS_OWN_DECORATORS = frozenset({"staticmethod", "classmethod"})


def say(text: str, out: TextIO = sys.stdout) -> None:
    """Write a line of the report (a command-line tool's output, not a log record)."""
    out.write(text + "\n")


def patch_mutmut_for_a_package_named_src() -> None:
    """Make mutmut 3.8 treat ``src`` as our package's name, not as a layout folder (see the module doc)."""
    import mutmut.__main__ as mutmut_main
    import mutmut.mutation.trampoline as trampoline
    import mutmut.stats as stats
    import mutmut.utils.format_utils as format_utils
    from mutmut.configuration import config
    from mutmut.state import state

    original_strip_prefix: Callable[..., str] = format_utils.strip_prefix

    def strip_prefix(s: str, *, prefix: str, strict: bool = False) -> str:
        return s if prefix == "src." else original_strip_prefix(s, prefix=prefix, strict=strict)

    def record_trampoline_hit(name: str, caller: str | None = None) -> None:
        # mutmut's own, without its assertion that no module is called ``src.…`` (max_stack_depth unsupported).
        state()._stats.add(name)
        if caller is not None and config().track_dependencies:
            state().function_dependencies[name].add(caller)

    def setup_source_paths() -> None:
        # Tests import the mutated copy as ``src.…`` from mutants/; the original tree must not be importable.
        sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != PROJECT_ROOT]
        sys.path.insert(0, str(MUTANTS_DIR))

    format_utils.strip_prefix = strip_prefix
    stats.record_trampoline_hit = record_trampoline_hit
    trampoline.record_trampoline_hit = record_trampoline_hit
    mutmut_main.setup_source_paths = setup_source_paths


def decorator_name(source: str) -> str:
    """A decorator's name as written, without its call: ``ws_handler`` for ``ws_handler(summary=...)``."""
    return "".join(source.partition("(")[0].split())


def lets_through(decorators: Sequence[str], chosen: Collection[str] = DECORATORS_LET_THROUGH) -> bool:
    """Whether the function with these decorators (their source, ``@`` left out) is mutated despite them: each is
    ``chosen`` (or ``staticmethod``/``classmethod`` beside one that is)."""
    names = [decorator_name(decorator) for decorator in decorators]
    return any(name in chosen for name in names) and all(
        name in chosen or name in MUTMUTS_OWN_DECORATORS for name in names
    )


def let_decorators_through(chosen: Collection[str] = DECORATORS_LET_THROUGH) -> None:
    """Have mutmut 3.8 mutate the functions whose decorators are all ``chosen`` (see ``lets_through``).

    mutmut skips a decorated function, but for a lone ``staticmethod`` or ``classmethod`` (``_skip_node_and_children``
    of its libcst pass). A function it mutates it writes three ways (``function_trampoline_arrangement``): the
    trampoline, under the function's own name and decorators, with mutmut's own decorator innermost (a
    ``functools.wraps`` wrapper: ``__name__``, ``__qualname__``, ``__doc__``, the annotations, and the signature
    through ``__wrapped__``, all the function's); the original's copy (``…__mutmut_orig``); and each mutant
    (``…__mutmut_1``, …), which the trampoline calls through the class, passing on its own arguments (``self`` or
    ``cls`` among them). Patched here: such a function is not skipped, and its decorators stay on the trampoline
    alone, so each runs once, on a function that looks like the one written; the copies are plain functions (a copy
    still under ``@ws_handler`` would be a second chanx handler for the same action, which chanx refuses).
    """
    import libcst as cst
    import mutmut.mutation.file_mutation as file_mutation

    def chosen_function(node: Any) -> bool:
        return isinstance(node, cst.FunctionDef) and lets_through(
            [cst.Module(body=[]).code_for_node(decorator.decorator) for decorator in node.decorators], chosen
        )

    original_skip: Callable[[Any, Any], bool] = file_mutation.MutationVisitor._skip_node_and_children
    original_arrangement: Callable[..., tuple[Any, list[Any], Any, Any]] = file_mutation.function_trampoline_arrangement

    def skip_node_and_children(visitor: Any, node: Any) -> bool:
        if not chosen_function(node):
            return original_skip(visitor, node)
        # mutmut's other rules still hold (`# pragma: no mutate`, names never mutated, …): they are asked about the
        # node itself (its positions are keyed by it), its decorators hidden for the while.
        decorators = node.decorators
        object.__setattr__(node, "decorators", ())
        try:
            return original_skip(visitor, node)
        finally:
            object.__setattr__(node, "decorators", decorators)

    def function_trampoline_arrangement(function: Any, mutants: Any, class_name: str | None) -> Any:
        declarations, (trampoline, *copies), assignments, names = original_arrangement(function, mutants, class_name)
        assert trampoline.name.value == function.name.value, "mutmut 3.8 writes the trampoline first"
        if chosen_function(function):
            copies = [copy.with_changes(decorators=()) for copy in copies]
        return declarations, [trampoline, *copies], assignments, names

    file_mutation.MutationVisitor._skip_node_and_children = skip_node_and_children
    file_mutation.function_trampoline_arrangement = function_trampoline_arrangement


def patch_mutmut() -> None:
    """Both patches: for a package named ``src``, and to mutate the functions under ``DECORATORS_LET_THROUGH``."""
    patch_mutmut_for_a_package_named_src()
    let_decorators_through()


def run_mutmut(args: list[str]) -> int:
    """Run mutmut's command line with ``args``, patched; its exit code."""
    patch_mutmut()
    from mutmut.__main__ import cli

    try:
        cli.main(args=args, prog_name="mutmut", standalone_mode=False)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def verdicts() -> dict[str, str]:
    """Every mutant of the last run with mutmut's verdict on it, from mutmut's ``.meta`` files."""
    from mutmut.stats import status_by_exit_code

    found: dict[str, str] = {}
    for meta in sorted((MUTANTS_DIR / "src").rglob("*.py.meta")):
        exit_codes: dict[str, int | None] = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        found.update({name: status_by_exit_code[code] for name, code in exit_codes.items()})
    return found


def documented_equivalents() -> set[str]:
    """The mutants docs/mutation.md explains as equivalent (or otherwise not to be killed)."""
    if not EQUIVALENTS_DOC.exists():
        return set()
    return set(MUTANT_NAME.findall(EQUIVALENTS_DOC.read_text(encoding="utf-8")))


def report(fail_under: float, out: TextIO = sys.stdout) -> int:
    """Print the score and the unexplained survivors; 1 if the score is too low or a survivor is unexplained."""
    by_name = verdicts()
    if not by_name:
        say("no mutants: run `python scripts/mutation.py run` first", out)
        return 1
    counts = Counter(by_name.values())
    detected = sum(counts[status] for status in DETECTED)
    score = 100.0 * detected / len(by_name)
    explained = documented_equivalents()
    unchecked = counts["not checked"]
    unexplained = sorted(
        name for name, status in by_name.items() if status not in (*DETECTED, "not checked") and name not in explained
    )
    stale = sorted(explained - {name for name, status in by_name.items() if status not in DETECTED})

    say("\nmutants by verdict: " + ", ".join(f"{status} {n}" for status, n in counts.most_common()), out)
    say(f"mutation score: {detected}/{len(by_name)} killed = {score:.1f}% (fail under {fail_under:g}%)", out)
    if stale:
        say(f"\n{len(stale)} mutants listed in docs/mutation.md are killed or gone now:", out)
        say("\n".join(f"  {name}" for name in stale), out)
    if unexplained:
        say(f"\n{len(unexplained)} surviving mutants are neither killed nor explained in docs/mutation.md:", out)
        say("\n".join(f"  {name}: {by_name[name]}" for name in unexplained), out)
        say("see each with `python scripts/mutation.py mutmut show <name>`", out)
    if unchecked:
        say(f"\n{unchecked} mutants are not checked yet: `python scripts/mutation.py run` checks them", out)
    return 1 if score < fail_under or unexplained or unchecked else 0


def show_survivors(patterns: list[str], out: TextIO = sys.stdout) -> int:
    """Print the diff of every unexplained surviving mutant (those matching ``patterns``, if any)."""
    patch_mutmut()
    from mutmut.mutation.diff_apply import find_mutant, get_diff_for_mutant

    explained = documented_equivalents()
    for name, status in sorted(verdicts().items()):
        if status in (*DETECTED, "not checked") or name in explained:
            continue
        if patterns and not any(fnmatch.fnmatch(name, pattern) for pattern in patterns):
            continue
        diff = get_diff_for_mutant(name, path=find_mutant(name).path)
        changed = [line for line in diff.splitlines()[2:] if line.startswith(("+", "-"))]
        say(f"# {name}: {status}", out)
        say("\n".join(changed), out)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``run`` (the default: mutmut run, then the report), ``report``, ``survivors [globs]``, ``mutmut <args>``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", default="run", choices=["run", "report", "survivors", "mutmut"])
    parser.add_argument("args", nargs=argparse.REMAINDER, help="mutant names (run), or mutmut's arguments")
    parser.add_argument("--fail-under", type=float, default=95.0, help="the lowest acceptable score, in percent")
    options = parser.parse_args(argv)
    os.chdir(PROJECT_ROOT)  # mutmut reads pyproject.toml and writes mutants/ in the working directory
    os.environ[NO_PROCESSES_ENV] = "1"  # the selected tests run in-process; a test that starts one fails
    os.environ.setdefault("HYPOTHESIS_PROFILE", "mutation")  # conftest.py: fewer examples per property test

    if options.command == "mutmut":
        return run_mutmut(options.args)
    if options.command == "survivors":
        return show_survivors(options.args)
    if options.command == "run":
        started = time.monotonic()
        code = run_mutmut(["run", *options.args])
        say(f"\nmutmut run took {time.monotonic() - started:.0f}s")
        if code != 0:
            return code
    return report(options.fail_under)


if __name__ == "__main__":
    sys.exit(main())

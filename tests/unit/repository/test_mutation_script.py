"""Which decorated functions scripts/mutation.py has mutmut mutate: those whose decorators are all chosen.

The choice is made over the decorators' source text, so it is pinned here without mutmut or libcst (the ``mutation``
extra, absent from this layer). The patch that applies it to mutmut's libcst pass is exercised by a mutation run
itself: its forced-fail check, and the whole suite passing under the trampolines before any mutant is tried.
"""

import ast
from pathlib import Path

from scripts.mutation import DECORATORS_LET_THROUGH, decorator_name, lets_through

ROOT = Path(__file__).resolve().parents[3]
CONSUMER = ROOT / "src" / "apps" / "background_jobs" / "consumer.py"
SETTINGS = ROOT / "src" / "settings.py"


def decorators_by_method(path: Path) -> dict[str, list[str]]:
    """The decorators (their source, ``@`` left out) of every decorated method in ``path``, by method name."""
    source = path.read_text(encoding="utf-8")
    return {
        node.name: [str(ast.get_source_segment(source, decorator)) for decorator in node.decorator_list]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef) and node.decorator_list
    }


def test_the_decorators_let_through_are_chanxs_handler_decorators_properties_and_pydantic_validators() -> None:
    assert {
        "ws_handler",
        "event_handler",
        "property",
        "cached_property",
        "field_validator",
        "model_validator",
    } == DECORATORS_LET_THROUGH


def test_a_decorator_is_named_as_written_without_its_call() -> None:
    assert decorator_name("ws_handler") == "ws_handler"
    assert decorator_name('ws_handler(\n    summary="Cancel a job",\n    output_type=JobStatus,\n)') == "ws_handler"
    assert decorator_name("chanx.core.decorators.event_handler(output_type=X)") == "chanx.core.decorators.event_handler"


def test_chanxs_handler_decorators_are_let_through_called_or_not() -> None:
    assert lets_through(["ws_handler"])
    assert lets_through(['ws_handler(summary="Look a job up", output_type=JobStatusMessage)'])
    assert lets_through(["event_handler"])
    assert lets_through(["event_handler(output_type=JobStatusMessage)"])


def test_properties_and_pydantic_validators_are_let_through() -> None:
    assert lets_through(["property"])
    assert lets_through(["cached_property"])
    assert lets_through(['model_validator(mode="after")'])


def test_a_function_with_any_decorator_not_chosen_is_left_to_mutmut() -> None:
    assert not lets_through([])
    assert not lets_through(["contextlib.contextmanager"])
    assert not lets_through(["asynccontextmanager"])
    assert not lets_through(['app.get("/healthz")'])
    assert not lets_through(["property", "functools.lru_cache"])
    assert not lets_through(["ws_handler", "some_other_decorator"])


def test_a_name_must_match_whole_as_written() -> None:
    assert not lets_through(["my_ws_handler"])
    assert not lets_through(["ws_handler_v2(summary='x')"])
    assert not lets_through(["decorators.ws_handler"])


def test_staticmethod_and_classmethod_pass_only_beside_a_chosen_decorator() -> None:
    assert not lets_through(["staticmethod"])
    assert not lets_through(["classmethod"])
    assert lets_through(['field_validator("allowed_hosts", mode="before")', "classmethod"])
    assert lets_through(["ws_handler", "staticmethod"])


def test_the_allowlist_can_be_chosen_per_call() -> None:
    assert lets_through(["ws_handler"], chosen={"ws_handler"})
    assert not lets_through(["property"], chosen={"ws_handler"})


def test_every_decorated_method_of_the_consumer_is_mutated_its_lone_staticmethod_by_mutmut_itself() -> None:
    decorated = decorators_by_method(CONSUMER)

    assert {name: decorators for name, decorators in decorated.items() if not lets_through(decorators)} == {
        "_status": ["staticmethod"]
    }
    assert {
        "handle_ping",
        "handle_job",
        "handle_job_lookup",
        "handle_cancel",
        "handle_job_result",
        "handle_job_progress",
    } <= decorated.keys()


def test_every_validator_and_property_of_the_settings_is_mutated() -> None:
    decorated = decorators_by_method(SETTINGS)

    assert [name for name, decorators in decorated.items() if not lets_through(decorators)] == []
    assert {"_list_from_text", "_one_token_key", "auth_enabled", "worker_arq_redis"} <= decorated.keys()

"""``ScriptedTransactions``: one transaction goes at once, those that come meanwhile go together next; a failed call
fails only its own transactions, and nothing waits forever."""

import asyncio
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from src.fastpath.pipelines import ScriptedTransactions


class FakeScript:
    """Answers each call with its ``args`` (one reply per command), once ``gate`` is set; or fails."""

    def __init__(self) -> None:
        self.calls: list[list[Any]] = []
        self.gate = asyncio.Event()
        self.failures: list[BaseException] = []
        self.extra_reply = False

    async def __call__(self, keys: list[Any], args: list[Any]) -> list[Any]:
        self.calls.append(list(args))
        await self.gate.wait()
        if self.failures:
            raise self.failures.pop(0)
        return [*args, "extra"] if self.extra_reply else list(args)


def sender(script: FakeScript) -> ScriptedTransactions:
    return ScriptedTransactions(script)  # type: ignore[arg-type]


async def behind_a_first(
    transactions: ScriptedTransactions, *waiting: list[Any]
) -> tuple["asyncio.Task[list[Any]]", list["asyncio.Task[list[Any]]"]]:
    """A first transaction (``["a"]``) on its way, held at the script's gate, and one transaction per ``waiting``
    (its arguments, a reply each) queued behind it."""
    first = asyncio.create_task(transactions.run([], ["a"], 1))
    await asyncio.sleep(0)  # one loop turn: the first's call reaches the script and waits at its gate
    queued = [asyncio.create_task(transactions.run([], arguments, len(arguments))) for arguments in waiting]
    await asyncio.sleep(0)  # one loop turn: each of the others finds the first on its way and waits
    return first, queued


async def test_a_lone_transaction_goes_at_once_and_those_meanwhile_go_together_each_with_its_replies() -> None:
    script = FakeScript()
    first, rest = await behind_a_first(sender(script), *([f"b{n}", f"c{n}"] for n in range(5)))
    assert script.calls == [["a"]]  # the others wait for the first's answer
    script.gate.set()

    assert await first == ["a"]
    assert [await task for task in rest] == [[f"b{n}", f"c{n}"] for n in range(5)]
    assert script.calls == [["a"], [part for n in range(5) for part in (f"b{n}", f"c{n}")]]


async def test_a_failed_call_fails_its_own_transactions_and_the_next_one_goes_at_once() -> None:
    script = FakeScript()
    transactions = sender(script)
    first, waiting = await behind_a_first(transactions, *([n] for n in range(3)))
    script.failures = [RedisConnectionError("first"), RedisConnectionError("batch")]
    script.gate.set()

    with pytest.raises(RedisConnectionError, match="first"):
        await first
    for task in waiting:
        with pytest.raises(RedisConnectionError, match="batch"):
            await task
    assert await asyncio.wait_for(transactions.run([], ["later"], 1), 1) == ["later"]
    assert script.calls[-1] == ["later"]


async def test_a_call_answered_with_the_wrong_number_of_replies_fails_its_transactions() -> None:
    script = FakeScript()
    first, [waiting] = await behind_a_first(sender(script), ["b"])
    script.extra_reply = True
    script.gate.set()

    await first  # the first call's replies are the pipeline's to count
    with pytest.raises(ResponseError, match="Wrong number of response items"):
        await waiting


async def test_those_waiting_are_sent_even_when_the_first_is_cancelled_on_its_way() -> None:
    script = FakeScript()
    first, [waiting] = await behind_a_first(sender(script), ["b"])

    first.cancel()
    await asyncio.sleep(0)  # one loop turn: the cancellation reaches the first
    script.gate.set()

    assert await asyncio.wait_for(waiting, 1) == ["b"]
    assert first.cancelled()


async def test_more_than_a_batch_waiting_goes_in_calls_of_at_most_max_batch() -> None:
    script = FakeScript()
    transactions = sender(script)
    transactions.MAX_BATCH = 3
    first, waiting = await behind_a_first(transactions, *([n] for n in range(7)))
    script.gate.set()

    await first
    assert [await task for task in waiting] == [[n] for n in range(7)]
    assert script.calls == [["a"], [0, 1, 2], [3, 4, 5], [6]]

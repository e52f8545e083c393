"""Admission, on its own: the sockets it counts against MAX_CONNECTIONS (and per client address against
MAX_SOCKETS_PER_CLIENT), and the enqueue backlog against MAX_ENQUEUE_BACKLOG that holds sockets' next frames back until
it is under the bound again."""

import asyncio

from src.settings import Settings
from src.web.admission import Admission, Refusal

AT_CAPACITY = Refusal("capacity", "The server holds its most sockets (2); try again shortly.")


def admission(
    max_enqueue_backlog: int = 2, max_connections: int = 2, max_sockets_per_client: int | None = None
) -> Admission:
    return Admission(
        Settings(
            max_enqueue_backlog=max_enqueue_backlog,
            max_connections=max_connections,
            max_sockets_per_client=max_sockets_per_client,
        )
    )


async def let_run(waiter: "asyncio.Task[None]") -> bool:
    """Give the waiter one turn of the loop: whether it has returned (a wait on room there is returns at once)."""
    await asyncio.sleep(0)
    return waiter.done()


async def test_the_backlog_counts_each_job_taken_on_and_each_handed_off() -> None:
    taken = admission(max_enqueue_backlog=10)

    taken.take_on()
    taken.take_on()
    taken.take_on()
    assert taken.backlog == 3
    taken.hand_off()
    assert taken.backlog == 2


async def test_frames_wait_at_the_bound_and_are_read_once_a_job_leaves_the_backlog() -> None:
    taken = admission(max_enqueue_backlog=2)
    taken.take_on()
    assert await let_run(asyncio.create_task(taken.wait_for_room())), "one job under a bound of two: room"
    taken.take_on()

    waiter = asyncio.create_task(taken.wait_for_room())
    assert not await let_run(waiter)

    taken.hand_off()
    await asyncio.wait_for(waiter, timeout=1)  # returns: room again


async def test_a_backlog_that_went_over_the_bound_holds_frames_until_it_is_under_it() -> None:
    """Frames already read may take jobs on past the bound; handing one off back to the bound is not room yet."""
    taken = admission(max_enqueue_backlog=2)
    for _ in range(3):
        taken.take_on()
    waiter = asyncio.create_task(taken.wait_for_room())

    taken.hand_off()
    assert not await let_run(waiter)

    taken.hand_off()
    await asyncio.wait_for(waiter, timeout=1)  # returns: room again


def test_sockets_are_counted_up_to_max_connections_and_a_closed_one_makes_room() -> None:
    held = admission(max_connections=2)

    assert [held.open_socket(), held.open_socket(), held.open_socket()] == [None, None, AT_CAPACITY]
    assert held.sockets == 2
    held.close_socket()
    assert held.sockets == 1
    assert held.open_socket() is None
    assert held.sockets == 2


def test_sockets_from_one_address_are_counted_up_to_max_sockets_per_client_and_a_closed_one_makes_room() -> None:
    held = admission(max_connections=10, max_sockets_per_client=2)

    opened = [held.open_socket("10.0.0.1") for _ in range(3)]

    assert opened == [
        None,
        None,
        Refusal("client_sockets", "This client address holds its most sockets (2); close one and try again."),
    ]
    assert held.open_socket("10.0.0.2") is None  # another address is served
    held.close_socket("10.0.0.1")
    assert held.open_socket("10.0.0.1") is None
    assert (held.sockets, held.clients) == (3, {"10.0.0.1": 2, "10.0.0.2": 1})


def test_an_address_whose_sockets_all_closed_is_forgotten() -> None:
    held = admission(max_sockets_per_client=2)
    held.open_socket("10.0.0.1")

    held.close_socket("10.0.0.1")

    assert (held.sockets, held.clients) == (0, {})


def test_a_socket_refused_for_max_connections_is_not_counted_for_its_address() -> None:
    held = admission(max_connections=2, max_sockets_per_client=5)
    held.open_socket("10.0.0.1")
    held.open_socket("10.0.0.2")

    assert held.open_socket("10.0.0.1") == AT_CAPACITY
    assert held.clients == {"10.0.0.1": 1, "10.0.0.2": 1}

"""The in-process budget and the transport that sends a client's requests within a budget."""

from __future__ import annotations

import asyncio
import time
from email.utils import formatdate

import httpx
import pytest
from prometheus_client import REGISTRY

from kitsync.ayon import AyonUnavailable, AyonWriter
from kitsync.budget import BudgetTimeout, BudgetTransport, LocalBudget, retry_after
from kitsync.kitsu import KitsuClient, KitsuUnavailable


async def _peak_in_flight(budget: LocalBudget, workers: int, hold: float) -> int:
    in_flight = peak = 0

    async def work() -> None:
        nonlocal in_flight, peak
        async with budget.slot():
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(hold)
            in_flight -= 1

    await asyncio.gather(*(work() for _ in range(workers)))
    return peak


async def test_never_more_in_flight_than_the_limit_and_every_waiter_gets_through() -> None:
    budget = LocalBudget("ayon", 3, wait_seconds=10)
    assert await _peak_in_flight(budget, workers=20, hold=0.01) == 3
    assert (await budget.usage()).in_use == 0


async def test_a_waiter_gives_up_after_the_wait_with_a_transient_error() -> None:
    budget = LocalBudget("kitsu", 1, wait_seconds=0.2)
    async with budget.slot():
        started = time.monotonic()
        with pytest.raises(BudgetTimeout, match=r"kitsu: no request slot of 1 free within 0\.2 s"):
            async with budget.slot():
                pass
        assert 0.2 <= time.monotonic() - started < 1


async def test_a_pause_holds_every_new_request_back_and_the_longest_stands() -> None:
    budget = LocalBudget("ayon", 4, wait_seconds=10)
    await budget.pause(0.3)
    await budget.pause(0.1)  # shorter: the 0.3 s pause stands
    assert 0.2 < (await budget.usage()).paused_for <= 0.3
    started = time.monotonic()
    async with budget.slot():
        assert time.monotonic() - started >= 0.29


async def test_a_pause_is_cut_to_the_wait() -> None:
    budget = LocalBudget("ayon", 4, wait_seconds=0.5)
    await budget.pause(3600)
    assert (await budget.usage()).paused_for <= 0.5


@pytest.mark.parametrize(
    ("status", "header", "expected"),
    [
        (429, "3", 3.0),
        (503, "7", 7.0),
        (429, None, 1.0),  # too fast, however long: hold back a second
        (503, None, None),  # a plain 503 is an ordinary failure
        (503, "soon", None),
        (500, "5", None),
        (200, "5", None),
    ],
)
def test_retry_after(status: int, header: str | None, expected: float | None) -> None:
    headers = {"Retry-After": header} if header else {}
    assert retry_after(httpx.Response(status, headers=headers)) == expected


def test_retry_after_as_an_http_date() -> None:
    when = formatdate(time.time() + 30, usegmt=True)
    response = httpx.Response(503, headers={"Retry-After": when})
    seconds = retry_after(response)
    assert seconds is not None and 28 <= seconds <= 30


async def test_a_client_sends_within_the_budget_and_its_bodies_arrive_whole() -> None:
    budget = LocalBudget("ayon", 2, wait_seconds=10)
    in_flight = peak = 0

    async def server(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return httpx.Response(200, json={"path": request.url.path})

    transport = BudgetTransport(httpx.MockTransport(server), budget)
    async with httpx.AsyncClient(transport=transport, base_url="http://ayon") as client:
        answers = await asyncio.gather(*(client.get(f"/api/{i}") for i in range(12)))
    assert peak == 2
    assert [answer.json()["path"] for answer in answers] == [f"/api/{i}" for i in range(12)]


async def test_a_429_pauses_the_budget_and_the_request_is_sent_again_after_it() -> None:
    budget = LocalBudget("kitsu", 4, wait_seconds=10)
    sent: list[float] = []

    async def server(request: httpx.Request) -> httpx.Response:
        sent.append(time.monotonic())
        if len(sent) == 1:
            return httpx.Response(429, headers={"Retry-After": "1"})
        return httpx.Response(201, content=request.content)

    transport = BudgetTransport(httpx.MockTransport(server), budget)
    async with httpx.AsyncClient(transport=transport, base_url="http://zou") as client:
        answer = await client.post("/data/x", json={"a": 1})
        assert answer.status_code == 201 and answer.json() == {"a": 1}
    assert sent[1] - sent[0] >= 0.99


async def test_an_answer_that_keeps_asking_for_a_pause_reaches_the_caller() -> None:
    budget = LocalBudget("ayon", 1, wait_seconds=10)
    calls = 0

    async def server(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503, headers={"Retry-After": "0"}, json={"detail": "busy"})

    transport = BudgetTransport(httpx.MockTransport(server), budget)
    async with httpx.AsyncClient(transport=transport, base_url="http://ayon") as client:
        answer = await client.get("/api/info")
    assert answer.status_code == 503 and answer.json() == {"detail": "busy"}
    assert calls == 6  # the first answer and five more after a pause each


async def test_metrics_show_the_limit_the_slots_held_and_the_pauses() -> None:
    def sample(name: str) -> float | None:
        return REGISTRY.get_sample_value(name, {"server": "metrics-test"})

    budget = LocalBudget("metrics-test", 5, wait_seconds=10)
    assert sample("kitsync_budget_limit") == 5
    async with budget.slot(), budget.slot():
        assert sample("kitsync_budget_in_use") == 2
    assert sample("kitsync_budget_in_use") == 0
    await budget.pause(0.01)
    assert sample("kitsync_budget_pauses_total") == 1


class _Server:
    """Counts the requests in flight at once; answers every one after a short while."""

    def __init__(self, body: object) -> None:
        self.body = body
        self.in_flight = self.peak = 0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        return httpx.Response(200, json=self.body)


async def test_the_ayon_writer_sends_within_its_budget_even_when_it_fans_out() -> None:
    server = _Server({})
    async with AyonWriter(
        "http://ayon",
        "key",
        transport=httpx.MockTransport(server.handle),
        budget=LocalBudget("ayon", 2, wait_seconds=10),
    ) as ayon:
        removed = await ayon.delete_links("p", [f"{i:032x}" for i in range(12)])
    assert (removed, server.peak) == (12, 2)


async def test_the_kitsu_client_sends_within_its_budget() -> None:
    server = _Server([])
    async with KitsuClient(
        "http://zou/api",
        bot_token="token",
        transport=httpx.MockTransport(server.handle),
        budget=LocalBudget("kitsu", 1, wait_seconds=10),
    ) as kitsu:
        await asyncio.gather(*(kitsu.persons() for _ in range(6)))
    assert server.peak == 1


async def test_a_budget_wait_that_runs_out_is_each_gateways_unavailable_error() -> None:
    """Every caller that handles "server unavailable" (retry the ingest, back the key off)
    handles a saturated budget the same way: it never escapes a gateway untyped."""
    ayon_budget = LocalBudget("ayon", 1, wait_seconds=0.1)
    kitsu_budget = LocalBudget("kitsu", 1, wait_seconds=0.1)
    async with (
        AyonWriter(
            "http://ayon",
            "key",
            transport=httpx.MockTransport(_Server({}).handle),
            budget=ayon_budget,
        ) as ayon,
        KitsuClient(
            "http://zou/api",
            bot_token="token",
            transport=httpx.MockTransport(_Server([]).handle),
            budget=kitsu_budget,
        ) as kitsu,
        ayon_budget.slot(),
        kitsu_budget.slot(),
    ):
        with pytest.raises(AyonUnavailable, match=r"no request slot of 1 free within 0\.1 s"):
            await ayon.delete_links("p", ["0" * 32])
        with pytest.raises(KitsuUnavailable, match=r"no request slot of 1 free within 0\.1 s"):
            await kitsu.persons()


async def test_a_request_cancelled_as_a_slot_is_handed_to_it_stays_cancelled_and_frees_it() -> None:
    """A worker that lost its lease cancels its requests: none may go out after that, and the
    slot handed over at that moment must not stay held."""
    budget = LocalBudget("ayon", 1, wait_seconds=5)

    async def cancelled_request() -> None:
        async with budget.slot():
            raise AssertionError("sent though cancelled")

    async with budget.slot():
        waiter = asyncio.create_task(cancelled_request())
        await asyncio.sleep(0.02)  # it waits for a slot of this process to be handed over
    waiter.cancel()  # the slot was handed over on leaving the block, before the waiter woke
    [outcome] = await asyncio.gather(waiter, return_exceptions=True)
    assert isinstance(outcome, asyncio.CancelledError)
    assert (await budget.usage()).in_use == 0

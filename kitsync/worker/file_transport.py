"""kombu's filesystem transport (``kitsync run`` without Redis), woken when this process publishes.

kombu's transport looks for new message files once per ``polling_interval`` (1 s) and sleeps in
between, so each hop of an event (the receiver's ``ingest``, then its ``reconcile``) waited half a
second on average: 770 ms from a Kitsu change to AYON, against 40-55 ms with Redis. In
``kitsync run`` every publisher lives in the worker's own process (the receiver's thread, the
tasks sending follow-up tasks, the poller task), so a publish here rings a bell that the waiting
consumer answers at once. Messages are still files, written before the bell rings: a restart
finds them as before. A message written by another process (the embedded beat runs in one) is
found by the poll, as before.
"""

from __future__ import annotations

import threading
from queue import Empty
from time import monotonic
from typing import Any

from kombu.transport import filesystem


class _Doorbell:
    """Counts publishes; a consumer waits for one newer than those it has seen."""

    def __init__(self) -> None:
        self._rung = 0
        self._changed = threading.Condition()

    def ring(self) -> None:
        with self._changed:
            self._rung += 1
            self._changed.notify_all()

    @property
    def rung(self) -> int:
        return self._rung

    def wait(self, seen: int, timeout: float) -> None:
        """Until a publish after ``seen`` (the count read before looking), or ``timeout``."""
        with self._changed:
            self._changed.wait_for(lambda: self._rung != seen, timeout)


# One per process: the publishing and the consuming connections are different kombu objects.
PUBLISHED = _Doorbell()


class Channel(filesystem.Channel):
    # As filesystem.Channel declares it (kombu's base names the argument ``message``).
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        super()._put(queue, payload, **kwargs)  # type: ignore[no-untyped-call]
        PUBLISHED.ring()


class Transport(filesystem.Transport):
    Channel = Channel

    def drain_events(self, connection: Any, timeout: float | None = None, **_: Any) -> None:
        """Deliver one message, as kombu's virtual transport does, but wait for a publish of
        this process (or the poll interval, for other processes' files) instead of sleeping."""
        deadline = None if timeout is None else monotonic() + timeout
        assert self.cycle is not None  # made with the transport
        while True:
            seen = PUBLISHED.rung  # read before looking: a publish during the look is not missed
            try:
                self.cycle.get(self._deliver, timeout=timeout)  # type: ignore[no-untyped-call]
                return
            except Empty:
                pause = self.polling_interval or 1.0
                if deadline is not None:
                    left = deadline - monotonic()
                    if left <= 0:
                        raise TimeoutError from None  # socket.timeout, as kombu expects
                    pause = min(pause, left)
                PUBLISHED.wait(seen, pause)


# What ``broker_transport`` names (kombu imports it by this path).
TRANSPORT = f"{__name__}:Transport"

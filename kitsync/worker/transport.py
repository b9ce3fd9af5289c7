"""kombu's Redis transport, with one fix: a worker survives losing Redis while it runs tasks.

When the broker connection drops, Celery 5.7 first collects the connection (which detaches the
transport from it) and then closes it. If a channel was still polling Redis then, its first close
failed, and the second one tries to put the channel's unacknowledged messages back in the queue
through a new connection pool built from the detached transport's settings: an
``AttributeError`` that Celery does not expect, so the worker stops ("Unrecoverable error")
instead of reconnecting. Found by the fault tier (tests/faults/test_redis_restart.py): a Redis
restart while a worker ran one task and waited for another stopped the worker.

Here a channel whose connection is detached reports a lost connection instead, which Celery
handles: the worker reconnects, and Redis gives the unacknowledged messages back after the
visibility timeout (the key queue, not the broker, is kitsync's record of what must run).

It is installed under kombu's own ``redis`` / ``rediss`` names rather than named in
``broker_transport``: the broker URL then still says ``redis://``, which is how Flower decides
whether it can show queue lengths (its Broker page said "'redis' broker is not supported" for a
transport named by its class path).
"""

from __future__ import annotations

from typing import Any

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection.client is None:
            raise RedisConnectionError("the broker connection was closed")
        params: dict[str, Any] = super()._connparams(asynchronous=asynchronous)  # type: ignore[no-untyped-call]
        return params


class Transport(kombu_redis.Transport):
    Channel = Channel


# The path kombu imports it by.
TRANSPORT = f"{__name__}:Transport"


def install() -> None:
    """Make ``redis://`` and ``rediss://`` broker URLs use this transport, in this process."""
    for scheme in ("redis", "rediss"):
        TRANSPORT_ALIASES[scheme] = TRANSPORT

"""Key queue backends: ``RedisKeyQueue`` (shared by all workers), ``StubKeyQueue`` (in-process)."""

from kitsync.worker.keyqueue.backends.redis import RedisKeyQueue
from kitsync.worker.keyqueue.backends.stub import StubKeyQueue

__all__ = ["RedisKeyQueue", "StubKeyQueue"]

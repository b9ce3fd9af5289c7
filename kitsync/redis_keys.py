"""Every Redis key kitsync uses, in one place (as arq keeps its names in ``constants.py``).

Everything lives under ``KITSYNC_REDIS_PREFIX`` (default ``kitsync:``), so several installations
can share one Redis and an operator can tell kitsync's keys at a glance:

- ``<prefix>celery:*``               Celery's broker (kombu's ``global_keyprefix``); a queue's list
                                     is ``<prefix>celery:<queue name>``, messages taken but not
                                     acknowledged are in ``<prefix>celery:unacked``
- ``<prefix>keyqueue:queued``        ZSET  key -> due at (Unix seconds, Redis's clock)
- ``<prefix>keyqueue:owner``         HASH  key -> owner (a field here means PROCESSING)
- ``<prefix>keyqueue:lease``         ZSET  key -> lease expiry
- ``<prefix>keyqueue:since``         ZSET  key -> claimed at
- ``<prefix>keyqueue:dirty``         SET   processing keys triggered during their run
- ``<prefix>keyqueue:attempts``      HASH  key -> claims since the last done / dead letter
- ``<prefix>keyqueue:dead``          HASH  key -> JSON ``{"error", "failed_at", "attempts"}``
- ``<prefix>keyqueue:seen:<id>``     STRING with a TTL, one per deduplicated Kitsu event id
- ``<prefix>poll:cursor``            the second (naive UTC) the poller has read Kitsu's log to
- ``<prefix>poll:lock``              lease of the one poll running now
- ``<prefix>lease:project:<id>``     lease of the one full reconcile of a project running now
- ``<prefix>poll:last``              when the last poll finished (Unix seconds, Redis's clock)
- ``<prefix>lock:anatomy:<project>`` the project's anatomy lock (AYON replaces whole lists)
- ``<prefix>a2k:task:<key>``         HASH  AYON -> Kitsu: a task's agreed values (the conflict
                                     rule's base) and AYON's last change to it
- ``<prefix>a2k:drain``              HASH  AYON -> Kitsu: the last drain of AYON's events
- ``<prefix>a2k:lease``              lease of the one drain of AYON's events running now
- ``<prefix>budget:<server>:slots``  ZSET  holder token -> lease expiry, one per request in
                                     flight to ``ayon`` or ``kitsu`` (``kitsync/budget``)
- ``<prefix>budget:<server>:pause``  pause-until after a 429/503 with Retry-After, expiring

On Redis Cluster, put a hash tag in the prefix (``kitsync:{kq}:``): the key queue's scripts
touch several of its keys at once.
"""

from __future__ import annotations

from dataclasses import dataclass

KEY_QUEUE_STRUCTURES = ("queued", "owner", "lease", "since", "dirty", "attempts", "dead")


@dataclass(frozen=True, slots=True)
class KeyQueueKeys:
    """The key queue's keys under its own prefix (``<prefix>keyqueue:`` in a deployment)."""

    prefix: str

    @property
    def structures(self) -> list[str]:
        """Every structure a queue script may touch, in the order the scripts expect."""
        return [self.prefix + name for name in KEY_QUEUE_STRUCTURES]

    @property
    def queued(self) -> str:
        return f"{self.prefix}queued"

    @property
    def owner(self) -> str:
        return f"{self.prefix}owner"

    @property
    def attempts(self) -> str:
        return f"{self.prefix}attempts"

    @property
    def dead(self) -> str:
        return f"{self.prefix}dead"

    def seen(self, event_id: str) -> str:
        return f"{self.prefix}seen:{event_id}"


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """The names of a deployment's keys, from its ``KITSYNC_REDIS_PREFIX``."""

    prefix: str

    @property
    def celery(self) -> str:
        return f"{self.prefix}celery:"

    def broker_queue(self, queue: str) -> str:
        return f"{self.celery}{queue}"

    @property
    def broker_unacked(self) -> str:
        """kombu's hash of messages taken but not acknowledged yet."""
        return f"{self.celery}unacked"

    @property
    def key_queue(self) -> str:
        return f"{self.prefix}keyqueue:"

    @property
    def poll_cursor(self) -> str:
        return f"{self.prefix}poll:cursor"

    @property
    def poll_lock(self) -> str:
        return f"{self.prefix}poll:lock"

    def project_lease(self, project_id: str) -> str:
        return f"{self.prefix}lease:project:{project_id}"

    @property
    def poll_last(self) -> str:
        return f"{self.prefix}poll:last"

    def anatomy_lock(self, project: str) -> str:
        return f"{self.prefix}lock:anatomy:{project}"

    def two_way_task(self, key: str) -> str:
        return f"{self.prefix}a2k:task:{key}"

    @property
    def two_way_drain(self) -> str:
        return f"{self.prefix}a2k:drain"

    @property
    def two_way_lease(self) -> str:
        return f"{self.prefix}a2k:lease"

    def budget(self, server: str) -> list[str]:
        """A server's budget: its slots, then its pause (the order the budget's scripts take)."""
        return [f"{self.prefix}budget:{server}:slots", f"{self.prefix}budget:{server}:pause"]

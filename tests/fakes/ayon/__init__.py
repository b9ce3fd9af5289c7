"""A fake AYON 1.16 server, over a real Postgres database laid out like AYON's.

AYON's server cannot be installed here, so this fake is kitsync's AYON in tests. It reproduces
the behaviour recorded in ``tests/fixtures/ayon`` (its contract test replays every recording):
status codes and bodies, integrity rules enforced by Postgres constraints, PATCH merge rules,
/operations transactions, links, and the rows written to ``public.events``.

Usage::

    app = create_app(pg_dsn)                 # keys: SERVICE_KEY -> "kitsync_service" (service
    with serve(app) as base_url: ...         #       user), HUMAN_KEY -> "alice" (ordinary user)
    await create_project(pg_dsn, "p_1a2b", data={"kitsuProjectId": "..."})
    await add_users(pg_dsn, {"alice": "alice@example.com"})   # users kitsync finds by e-mail

Test hooks:

- ``app.state.requests``: ``(METHOD, path)`` of every request received, in order.
- ``inject_failures(app, count=2, status=503)``: the next 2 requests get a 503 and write nothing.
  ``method=`` / ``path=`` (a prefix) restrict which requests are hit; ``delay=`` stalls first.
- ``inject_delay(app, seconds, count=1)``: stall the next request(s), then handle them normally
  (a client that timed out may still see its write happen, as with a slow real server).
- ``inject_failure_rate(app, rate=0.2, statuses=(503,), timeout_share=0.5, stall=2.0, seed=7)``:
  from now on each request fails with probability ``rate`` (a seeded draw per request): half of
  the failures answer a status from ``statuses`` and write nothing, half stall ``stall`` seconds
  (longer than the client's timeout) and are then handled normally, so the client sees a timeout
  while its write happens. ``method=`` / ``path=`` restrict it; queued faults come first.
- ``inject_rejection(app, match, status=400, detail=...)``: refuse every request whose
  ``match(method, path, json_body)`` is true, after authentication, until cleared: a value
  AYON's own validation would refuse (e.g. an attribute out of its range). Nothing is written.
- ``clear_faults(app)`` ends all of them; ``app.state.fail_next`` is the underlying plan.

AYON's integrity rules are written down in ``rules.py``; ``memory.MemoryAyon`` applies them to a
project held in memory, for the planner's tests that need no server.

GraphQL (``POST /graphql``, ``_graphql.py``) is parsed and validated by graphql-core against the
schema recorded from AYON 1.16; its contract test replays ``tests/fixtures/ayon/graphql``.

Not served: versions/representations/workfiles, thumbnails, ``activity.created`` event rows,
the ``log.error`` rows AYON writes for GraphQL errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._app import create_app
from ._auth import HUMAN_KEY, SERVICE_KEY
from ._db import connect, ensure_public_tables
from ._events import Caller
from ._faults import (
    clear_faults,
    inject_delay,
    inject_failure_rate,
    inject_failures,
    inject_rejection,
)
from ._projects import deploy_project

__all__ = [
    "HUMAN_KEY",
    "SERVICE_KEY",
    "add_users",
    "clear_faults",
    "create_app",
    "create_project",
    "inject_delay",
    "inject_failure_rate",
    "inject_failures",
    "inject_rejection",
]


async def create_project(dsn: str, name: str, *, data: dict[str, Any] | None = None) -> None:
    """Deploy project ``name`` with the default anatomy (as POST /api/projects with code=name),
    then set its ``data``."""
    async with connect(dsn) as conn:
        await ensure_public_tables(conn)
        await deploy_project(conn, Caller(user=None), name=name, code=name)
        if data:
            await conn.execute(
                "UPDATE public.projects SET data = $2, updated_at = NOW() WHERE name = $1",
                name,
                data,
            )


async def add_users(dsn: str, users: Mapping[str, str]) -> None:
    """AYON users ``{name: e-mail}``; a user already there gets that e-mail (its other
    attributes stay)."""
    async with connect(dsn) as conn:
        await ensure_public_tables(conn)
        await conn.executemany(
            """INSERT INTO public.users (name, attrib, data) VALUES ($1, $2, '{}')
               ON CONFLICT (name) DO UPDATE SET attrib = public.users.attrib || EXCLUDED.attrib""",
            [(name, {"email": email}) for name, email in users.items()],
        )

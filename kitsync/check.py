"""``kitsync check``: can kitsync reach and use each dependency? One verdict per dependency.

Each check turns the gateway's typed errors into a sentence a pipeline TD can act on. None of
them prints a secret: URLs are shown with passwords masked, errors by their own safe messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as aioredis
import redis.exceptions

from kitsync.ayon import (
    AmbiguousPairing,
    AyonAuthError,
    AyonError,
    AyonNotFound,
    AyonReader,
    AyonReads,
    AyonWriter,
    connect,
)
from kitsync.ayon_to_kitsu import RedisSyncState, describe_direction
from kitsync.config import Settings, redact_url, reveal
from kitsync.errors import ConfigError
from kitsync.kitsu import (
    KitsuAuthError,
    KitsuBadResponse,
    KitsuClient,
    KitsuError,
    KitsuNotFound,
    KitsuUnavailable,
)
from kitsync.reconcile.context import open_reader


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


async def check_kitsu(settings: Settings) -> CheckResult:
    name = "Kitsu"
    if settings.kitsu_url is None:
        return CheckResult(name, False, "not configured: set KITSU_URL")
    where = settings.kitsu_url
    try:
        async with KitsuClient(
            settings.kitsu_url,
            email=settings.kitsu_email,
            password=reveal(settings.kitsu_password),
            bot_token=reveal(settings.kitsu_bot_token),
            timeout=settings.http_timeout,
        ) as kitsu:
            projects = await kitsu.projects()
    except KitsuAuthError as error:
        how = "KITSU_BOT_TOKEN" if settings.kitsu_bot_token else "KITSU_EMAIL / KITSU_PASSWORD"
        return CheckResult(name, False, f"{where}: bad credentials ({how}): {error}")
    except (KitsuNotFound, KitsuBadResponse):
        return CheckResult(
            name, False, f"{where}: no Kitsu API there; KITSU_URL is the API root (ends in /api)"
        )
    except KitsuUnavailable as error:
        return CheckResult(name, False, f"{where}: unreachable or failing ({error})")
    except (KitsuError, ConfigError) as error:  # ConfigError: no credentials, or both kinds
        return CheckResult(name, False, f"{where}: {error}")
    return CheckResult(name, True, f"{where}: logged in, {len(projects)} projects visible")


async def check_ayon(settings: Settings) -> CheckResult:
    name = "AYON"
    if settings.ayon_url is None or settings.ayon_api_key is None:
        return CheckResult(name, False, "not configured: set AYON_URL and AYON_API_KEY")
    where = settings.ayon_url
    try:
        api_key = settings.ayon_api_key.get_secret_value()
        async with AyonWriter(settings.ayon_url, api_key, timeout=settings.http_timeout) as ayon:
            user = await ayon.me()
    except AyonAuthError:
        return CheckResult(name, False, f"{where}: the API key was refused (AYON_API_KEY)")
    except AyonNotFound:
        return CheckResult(name, False, f"{where}: no AYON API there; check AYON_URL")
    except AyonError as error:
        return CheckResult(name, False, f"{where}: unreachable or failing ({error})")
    if not user.is_service:
        return CheckResult(
            name,
            False,
            f"{where}: user '{user.name}' is not a service user; create a service user in "
            "AYON (Settings > Users) and use its API key",
        )
    return CheckResult(name, True, f"{where}: service user '{user.name}'")


async def check_ayon_reads(settings: Settings) -> CheckResult:
    """The read path in use (API, or AYON's database with ``AYON_DB_DSN``): the paired
    projects, and each one readable."""
    name = "AYON reads"
    if settings.ayon_db_dsn is not None:
        return await _check_database(name, settings, settings.ayon_db_dsn.get_secret_value())
    if settings.ayon_url is None or settings.ayon_api_key is None:
        return CheckResult(name, False, "not configured: set AYON_URL and AYON_API_KEY")
    where = f"API of {settings.ayon_url} (no AYON_DB_DSN)"
    try:
        async with open_reader(settings) as reader:
            paired = await reader.paired_projects()
            refused = [
                project
                for project, readable in zip(
                    sorted(paired.values()),
                    await asyncio.gather(*(_readable(reader, p) for p in sorted(paired.values()))),
                    strict=True,
                )
                if not readable
            ]
    except AmbiguousPairing as error:
        return CheckResult(name, False, f"{where}: {error}; unpair all but one")
    except AyonAuthError as error:
        return CheckResult(name, False, f"{where}: the service user may not read ({error})")
    except AyonError as error:
        return CheckResult(name, False, f"{where}: {error}")
    if refused:
        return CheckResult(
            name,
            False,
            f"{where}: the service user cannot read {', '.join(refused)}; give it access",
        )
    return CheckResult(name, True, f"{where}: {len(paired)} paired projects")


async def _readable(reader: AyonReads, project: str) -> bool:
    try:
        await reader.anatomy(project)
    except (AyonNotFound, AyonAuthError):
        return False
    return True


async def _check_database(name: str, settings: Settings, dsn: str) -> CheckResult:
    where = f"database {redact_url(dsn)}"
    try:
        pool = await connect(dsn, min_size=1, max_size=2, command_timeout=settings.db_timeout)
    except AyonError as error:  # its message names the kind of error, never the DSN
        return CheckResult(name, False, f"{where}: {error}")
    try:
        reader = AyonReader(pool)
        try:
            paired = await reader.paired_projects()
        except AmbiguousPairing as error:
            return CheckResult(name, False, f"{where}: {error}; unpair all but one")
        except AyonNotFound:
            return CheckResult(
                name, False, f"{where}: no AYON tables there; check the database name"
            )
        except AyonError as error:
            return CheckResult(name, False, f"{where}: {error}")
        missing = [p for p in sorted(paired.values()) if not await _readable(reader, p)]
        if missing:
            return CheckResult(
                name, False, f"{where}: project schema missing for {', '.join(missing)}"
            )
        return CheckResult(name, True, f"{where}: {len(paired)} paired projects")
    finally:
        await pool.close()


async def check_redis(settings: Settings) -> CheckResult:
    name = "Redis"
    if settings.redis_url is None:
        return CheckResult(name, True, "not configured: single-process mode")
    url = settings.redis_url.get_secret_value()
    client = aioredis.Redis.from_url(url, socket_timeout=settings.http_timeout)
    try:
        await client.ping()
    except redis.exceptions.AuthenticationError:
        return CheckResult(name, False, f"{redact_url(url)}: wrong password")
    except (redis.exceptions.RedisError, OSError) as error:
        return CheckResult(name, False, f"{redact_url(url)}: unreachable ({type(error).__name__})")
    finally:
        await client.aclose()
    return CheckResult(name, True, f"{redact_url(url)}: reachable")


async def check_ayon_to_kitsu(settings: Settings) -> CheckResult:
    """Whether AYON's changes flow back to Kitsu, and how far behind the last drain was."""
    name = "AYON -> Kitsu"
    now = datetime.now(UTC)
    if not settings.ayon_to_kitsu:
        return CheckResult(name, True, describe_direction(settings.ayon_to_kitsu, None, now))
    if settings.redis_url is None:
        on = ", ".join(sorted(settings.ayon_to_kitsu))
        return CheckResult(name, True, f"on for {on} (single-process mode: `kitsync run` drains)")
    client = aioredis.Redis.from_url(
        settings.redis_url.get_secret_value(), socket_timeout=settings.http_timeout
    )
    try:
        record = await RedisSyncState(client, settings.redis_prefix).last_drain()
    except (redis.exceptions.RedisError, OSError) as error:
        return CheckResult(name, False, f"cannot read its state in Redis ({type(error).__name__})")
    finally:
        await client.aclose()
    return CheckResult(name, True, describe_direction(settings.ayon_to_kitsu, record, now))


CHECKS: tuple[Callable[[Settings], Awaitable[CheckResult]], ...] = (
    check_kitsu,
    check_ayon,
    check_ayon_reads,
    check_redis,
    check_ayon_to_kitsu,
)


async def run_checks(settings: Settings) -> list[CheckResult]:
    """Run every check concurrently; never raises for a failing dependency."""
    return list(await asyncio.gather(*(_verdict(check, settings) for check in CHECKS)))


async def _verdict(
    check: Callable[[Settings], Awaitable[CheckResult]], settings: Settings
) -> CheckResult:
    """A check that fails in a way it did not foresee is a FAIL line of its own, not a
    traceback instead of every line (named by its type: its message may quote a setting)."""
    try:
        return await check(settings)
    except Exception as error:
        what = check.__name__.removeprefix("check_").replace("_", " ")
        return CheckResult(what, False, f"check failed: {type(error).__name__}")

"""Making AYON match Kitsu: the reconcilers the worker and the CLI run, and what they need.

- :func:`reconcile_key`: one key, whatever its kind: an entity or task
  (:func:`reconcile_entity`), a container's casting (:func:`reconcile_casting`), or the project's
  attributes, a task type's or status's anatomy item, a person's tasks, a shared record in every
  paired project (``reconcile/shared.py``).
- :func:`reconcile_project`: a whole project (its entities, then its breakdown links).
- Pairing a Kitsu project with an AYON project: :func:`find_kitsu_project`, :func:`pair_project`.
- Recording what was done as AYON events: :func:`record_kitsu_events`,
  :func:`record_reconcile`, :class:`SyncProgress`.
- The shared clients (:class:`SyncContext`, :func:`open_context`) and the per-project anatomy
  locks (:class:`ProjectLocks`; :class:`LocalLocks` in one process).

Import from here; the modules behind it (``_``-prefixed ones above all) may move.
"""

from kitsync.reconcile.casting import reconcile_casting, reconcile_project_casting
from kitsync.reconcile.context import SyncContext, open_context
from kitsync.reconcile.dispatch import reconcile_key
from kitsync.reconcile.entity import reconcile_entity
from kitsync.reconcile.locks import LocalLocks, ProjectLocks
from kitsync.reconcile.pairing import (
    Pairing,
    PairingRefused,
    UnknownProject,
    find_kitsu_project,
    pair_project,
)
from kitsync.reconcile.project import (
    Failure,
    Progress,
    ProjectNotPaired,
    ProjectReport,
    reconcile_project,
)
from kitsync.reconcile.record import (
    SYNC_TOPIC,
    Recorded,
    SyncProgress,
    record_kitsu_events,
    record_reconcile,
)
from kitsync.reconcile.result import ReconcileResult

__all__ = [
    "SYNC_TOPIC",
    "Failure",
    "LocalLocks",
    "Pairing",
    "PairingRefused",
    "Progress",
    "ProjectLocks",
    "ProjectNotPaired",
    "ProjectReport",
    "ReconcileResult",
    "Recorded",
    "SyncContext",
    "SyncProgress",
    "UnknownProject",
    "find_kitsu_project",
    "open_context",
    "pair_project",
    "reconcile_casting",
    "reconcile_entity",
    "reconcile_key",
    "reconcile_project",
    "reconcile_project_casting",
    "record_kitsu_events",
    "record_reconcile",
]

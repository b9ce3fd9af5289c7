"""kitsync's Zou event handler: forwards the events kitsync cares about to its receiver.

Zou 1.0.97 puts ``EVENT_HANDLERS_FOLDER`` on ``sys.path``, imports the package
``event_handlers`` from it and registers its ``event_map``. Install this package there as
``event_handlers`` (``python -m kitsync.zou_plugin install "$EVENT_HANDLERS_FOLDER"``) and set, in
Zou's environment, ``KITSYNC_RECEIVER_URL`` (the receiver's base URL), ``KITSYNC_WEBHOOK_SECRET``
(the receiver's secret) and optionally ``KITSYNC_PLUGIN_TIMEOUT`` (seconds, default 2).

Standard library only, and it never imports kitsync: Zou's virtualenv does not have it.
"""

from __future__ import annotations

from ._forwarder import ZouHandler
from ._names import FORWARDED_EVENT_NAMES

# kitsync-zou-plugin (marker: the installer replaces only a package that carries it)
event_map: dict[str, ZouHandler] = {
    name: ZouHandler(name) for name in sorted(FORWARDED_EVENT_NAMES)
}

__all__ = ["FORWARDED_EVENT_NAMES", "ZouHandler", "event_map"]

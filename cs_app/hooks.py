"""Signals one feature sends and other features subscribe to, so arrows point one way.

Ingestion (``accounts``) must not import the trigger rules that react to new events: it sends
``events_ingested`` and ``triggers.rules`` subscribes when the app is built
(``app.connect_hooks``). Receivers run in the sender's transaction, in the order connected.
"""

from __future__ import annotations

from blinker import Namespace

_hooks = Namespace()

# sent with ``rows`` (the usage-event rows just inserted, as dicts) and ``now``
events_ingested = _hooks.signal("events-ingested")

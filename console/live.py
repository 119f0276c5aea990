"""The live push: changes from the other apps' signals go to every connected map, in order.

incidents.report_changed, tracking.position_updated and tracking.presence_changed are sent after
their transaction commits; each becomes a `LiveEvent` row (the catch-up log, see models.py) and a
message to the channel-layer group that every console WebSocket joins. The write and the push are
deferred with `transaction.on_commit` too, so a change made inside a caller's transaction is never
shown before it is real.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from incidents.models import Report
from incidents.signals import report_changed
from tracking.models import LatestPosition, Supervisor
from tracking.signals import position_updated, presence_changed

from . import settings as cs
from .features import REPORT_FIELDS, escalated_ids, report_feature, supervisor_feature
from .models import LiveEvent

log = logging.getLogger("console.live")
try:
    from redis.exceptions import RedisError

    _LAYER_ERRORS: tuple[type[BaseException], ...] = (RedisError,)
except ImportError:  # no Redis client installed: only the in-memory layer
    _LAYER_ERRORS = ()
GROUP = "console-live"
PRUNE_EVERY = 500  # events between two prunes of the catch-up log


def message(ev: LiveEvent) -> dict:
    return {"seq": ev.id, "kind": ev.kind, "key": ev.key, "data": ev.payload}


def current_seq() -> int:
    last = LiveEvent.objects.order_by("-id").values_list("id", flat=True).first()
    return last or 0


PRUNED = "pruned"  # a marker row: key = the highest id deleted by the last prune


def events_since(seq: int) -> list[dict] | None:
    """What a reconnecting browser missed after `seq`; None when it cannot be told (reload instead).

    Ids may have gaps (rolled-back transactions use sequence values), so a gap is not a loss;
    only a prune past `seq` or more than CONSOLE_LIVE_REPLAY_MAX events are.
    """
    limit = cs.live_replay_max()
    marker = LiveEvent.objects.filter(kind=PRUNED).order_by("-id").first()
    if marker is not None and seq < int(marker.key):
        return None
    rows = list(LiveEvent.objects.filter(id__gt=seq).exclude(kind=PRUNED).order_by("id")[: limit + 1])
    if len(rows) > limit:
        return None
    return [message(ev) for ev in rows]


def prune(now=None) -> int:
    """Drop events older than CONSOLE_LIVE_KEEP_S, leaving a marker so a browser behind them reloads."""
    cutoff = (now or timezone.now()) - timedelta(seconds=cs.live_keep_s())
    old = LiveEvent.objects.filter(at__lt=cutoff)
    top = old.order_by("-id").values_list("id", flat=True).first()
    if top is None:
        return 0
    deleted, _ = old.delete()
    LiveEvent.objects.create(kind=PRUNED, key=str(top))
    return deleted


def _send_many(items: list[tuple[str, str, dict]]) -> None:
    """Log several changes with one INSERT and push them as one channel-layer message."""
    rows = LiveEvent.objects.bulk_create([LiveEvent(kind=k, key=str(key)[:64], payload=p) for k, key, p in items])
    if (rows[0].id - 1) // PRUNE_EVERY != rows[-1].id // PRUNE_EVERY:  # reached a multiple of PRUNE_EVERY
        prune()
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(GROUP, {"type": "live.batch", "events": [message(ev) for ev in rows]})
    except (OSError, *_LAYER_ERRORS) as exc:
        log.warning(
            "live push failed (%s); events %s-%s kept for catch-up", type(exc).__name__, rows[0].id, rows[-1].id
        )


_batch = threading.local()


@contextlib.contextmanager
def batched() -> Iterator[None]:
    """Publishes inside the block are logged and pushed together when it ends without an error.

    The worker's relay wraps each batch of deliveries in it (registered in apps.py), after the
    batch's transaction: a burst of changes costs one INSERT and one message, and a console's
    channel is not flooded past the layer's capacity (which drops what does not fit).
    """
    if getattr(_batch, "items", None) is not None:  # nested: the outer block pushes
        yield
        return
    _batch.items = []
    try:
        yield
    except BaseException:
        _batch.items = None  # rolled back: nothing of it is real
        raise
    items, _batch.items = _batch.items, None
    if items:
        _send_many(items)


def publish(kind: str, key: str, payload: dict) -> None:
    """Log and push one change once the current transaction (if any) commits (or with the batch, in `batched`)."""
    items = getattr(_batch, "items", None)
    if items is not None:
        items.append((kind, key, payload))
        return
    transaction.on_commit(lambda: _send_many([(kind, key, payload)]))


# --- signal receivers ---------------------------------------------------------------------------
def on_report_changed(sender, report, event=None, created: bool = False, **kwargs) -> None:
    fresh = Report.objects.select_related(*REPORT_FIELDS).filter(pk=report.pk).first()
    if fresh is None:
        return
    esc = fresh.pk in escalated_ids([fresh.pk])
    payload = report_feature(fresh, escalated=esc)
    if event is not None:
        payload["ev"] = {"kind": event.kind, "to": event.to_status, "by": event.actor_label}
    payload["new"] = bool(created)
    publish("report", fresh.public_id, payload)


def on_position_updated(sender, supervisor_id: int, position=None, supervisor=None, **kwargs) -> None:
    if supervisor is not None and position is not None:  # the worker read both just now
        publish("position", str(supervisor_id), supervisor_feature(supervisor, position))
        return
    sup = Supervisor.objects.select_related("opd").filter(pk=supervisor_id).first()
    if sup is None:
        return
    lp = LatestPosition.objects.filter(pk=supervisor_id).first() or position
    publish("position", str(supervisor_id), supervisor_feature(sup, lp))


def on_presence_changed(sender, supervisor_id: int, new: str = "", supervisor=None, **kwargs) -> None:
    if supervisor is not None:  # the worker read it (and the position) just now
        publish("presence", str(supervisor_id), supervisor_feature(supervisor, kwargs.get("position"), new))
        return
    sup = Supervisor.objects.select_related("opd").filter(pk=supervisor_id).first()
    if sup is None:
        return
    lp = LatestPosition.objects.filter(pk=supervisor_id).first()
    publish("presence", str(supervisor_id), supervisor_feature(sup, lp, new or sup.presence_state))


def connect_signals() -> None:
    report_changed.connect(on_report_changed, dispatch_uid="console_report_changed")
    position_updated.connect(on_position_updated, dispatch_uid="console_position_updated")
    presence_changed.connect(on_presence_changed, dispatch_uid="console_presence_changed")

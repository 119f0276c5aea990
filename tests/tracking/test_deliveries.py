"""The worker's deliverers are registered with the relay once the app is ready (apps.py)."""

from core import relay
from tracking import deliveries
from tracking.signals import POSITION, PRESENCE


def test_both_topics_are_delivered_by_the_worker():
    position, presence = relay.TOPICS[POSITION], relay.TOPICS[PRESENCE]
    assert position.deliver is deliveries.deliver_position and position.coalesce
    assert presence.deliver is deliveries.deliver_presence and not presence.coalesce
    assert position.prepare is presence.prepare is deliveries.read_positions
    scopes = list(relay.BATCH_SCOPES)
    deliveries.connect()  # again: nothing registered twice
    assert relay.BATCH_SCOPES == scopes

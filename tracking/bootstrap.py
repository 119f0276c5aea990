"""First start: ping-history partitions from yesterday to TRACKING_PARTITIONS_AHEAD_DAYS ahead."""

from . import partitions


def bootstrap(log=print) -> None:
    created = partitions.ensure_ahead()
    if created:
        log(f"created {created} ping history partitions")

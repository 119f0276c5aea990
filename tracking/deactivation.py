"""A supervisor who leaves loses their phones' access at once.

Deactivating the supervisor record, or the user account linked to it, revokes every device of
that supervisor as an administrator's revoke does: the tokens stop working for pings and for
orders (dispatch authenticates phones through tracking.auth), and so does the field app's browser
device. Reactivating brings no token back: the administrator issues new ones.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.base_user import AbstractBaseUser
from django.utils import timezone

from .auth import auth_cache
from .models import Device, Supervisor


def revoke_devices_of(supervisor_ids: Iterable[int]) -> int:
    """Revoke every device of these supervisors that is not revoked yet; how many were."""
    revoked = Device.objects.filter(supervisor_id__in=list(supervisor_ids), revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if revoked:
        auth_cache.invalidate()  # an UPDATE sends no post_save: forget this process's cached logins
    return revoked


def on_supervisor_saved(sender: object, instance: Supervisor, **kwargs: object) -> None:
    if not instance.active:
        revoke_devices_of([instance.pk])


def on_user_saved(sender: object, instance: AbstractBaseUser, **kwargs: object) -> None:
    if not instance.is_active:
        revoke_devices_of(Supervisor.objects.filter(user_id=instance.pk).values_list("pk", flat=True))

"""A supervisor who leaves (the record or the user account deactivated) loses their phones' access."""

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from tests.tracking.conftest import make_supervisor, native, pings
from tracking.auth import auth_cache
from tracking.models import Device

pytestmark = pytest.mark.django_db


def orders_of(sup):
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION=f"Bearer {sup.token}", HTTP_X_DEVICE_ID=sup.device.device_id)
    return c.get("/api/my/orders/")


def test_deactivating_the_supervisor_revokes_their_phone(city, t0):
    auth_cache.invalidate()
    sup = make_supervisor()
    assert native(sup, {"pings": pings(t0, 2)}).status_code == 200  # the token works, and is cached
    assert orders_of(sup).status_code == 200

    sup.active = False
    sup.save()

    assert Device.objects.get(pk=sup.device.pk).revoked
    assert native(sup, {"pings": pings(t0, 2, start=5)}).status_code == 403
    assert orders_of(sup).status_code in (401, 403)


def test_deactivating_the_user_account_revokes_the_supervisors_phone(city, t0):
    auth_cache.invalidate()
    sup = make_supervisor()
    sup.user = User.objects.create_user("budi", password="a-long-test-password-1")
    sup.save()
    assert native(sup, {"pings": pings(t0, 2)}).status_code == 200

    sup.user.is_active = False
    sup.user.save()

    assert Device.objects.get(pk=sup.device.pk).revoked
    assert native(sup, {"pings": pings(t0, 2, start=5)}).status_code == 403
    assert orders_of(sup).status_code in (401, 403)


def test_saving_an_active_supervisor_leaves_the_phone_alone(city, t0):
    sup = make_supervisor()
    sup.phone = "0812"
    sup.save()
    assert not Device.objects.get(pk=sup.device.pk).revoked
    assert native(sup, {"pings": pings(t0, 2)}).status_code == 200

from django.contrib import admin, messages
from django.utils import timezone

from core.map_admin import MapAdmin

from .models import AttendanceDay, Device, FieldStaff, Geofence, LatestPosition, Shift, ShiftOverride, Supervisor


class ShiftInline(admin.TabularInline):
    model = Shift
    extra = 0


class ShiftOverrideInline(admin.TabularInline):
    model = ShiftOverride
    extra = 0


class FieldStaffInline(admin.TabularInline):
    model = FieldStaff
    extra = 0


class DeviceInline(admin.TabularInline):
    model = Device
    extra = 0
    fields = ["device_id", "label", "revoked_at", "last_seen_at"]
    readonly_fields = ["last_seen_at"]


@admin.register(Supervisor)
class SupervisorAdmin(admin.ModelAdmin):
    list_display = ["name", "opd", "kecamatan_codes", "presence_state", "presence_since", "active"]
    list_filter = ["opd", "presence_state", "active"]
    search_fields = ["name", "phone"]
    filter_horizontal = ["geofences"]
    readonly_fields = ["presence_state", "presence_reason", "presence_since"]
    inlines = [ShiftInline, ShiftOverrideInline, FieldStaffInline, DeviceInline]


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["device_id", "supervisor", "revoked_at", "last_seen_at"]
    search_fields = ["device_id", "supervisor__name"]
    readonly_fields = ["token_hash", "last_seen_at"]
    actions = ["issue_token", "revoke"]

    @admin.action(description="Issue a new token (shown once)")
    def issue_token(self, request, queryset):
        for device in queryset:
            token = device.issue_token()
            device.save(update_fields=["token_hash"])
            self.message_user(request, f"{device.device_id}: new token {token}", messages.WARNING)

    @admin.action(description="Revoke (pings are refused from now on)")
    def revoke(self, request, queryset):
        n = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"revoked {n} device(s)")


@admin.register(Geofence)
class GeofenceAdmin(MapAdmin):
    list_display = ["code", "name", "opd", "active"]


@admin.register(LatestPosition)
class LatestPositionAdmin(MapAdmin):
    list_display = ["supervisor", "device_time", "received_at", "kecamatan_code", "in_area", "accuracy"]
    readonly_fields = [f.name for f in LatestPosition._meta.fields]


@admin.register(AttendanceDay)
class AttendanceDayAdmin(admin.ModelAdmin):
    list_display = ["date", "supervisor", "shift_minutes", "present_minutes", "ratio", "verdict"]
    list_filter = ["verdict", "date", "supervisor__opd"]
    readonly_fields = [f.name for f in AttendanceDay._meta.fields]

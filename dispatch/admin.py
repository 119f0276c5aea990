"""Admin: facilities (map, free rooms), orders with steps, decisions with candidates, timers."""

from django.contrib import admin

from core.map_admin import MapAdmin

from .models import Decision, DispatchState, Facility, Order, OrderStep, RoomHold


@admin.register(Facility)
class FacilityAdmin(MapAdmin):
    list_display = ["name", "kind", "maternity_rooms", "free_rooms", "active", "rooms_updated_at"]
    list_filter = ["kind", "active"]
    search_fields = ["name", "code", "address"]
    filter_horizontal = ["staff"]
    readonly_fields = ["rooms_updated_at", "rooms_updated_by"]


class StepInline(admin.TabularInline):
    model = OrderStep
    extra = 0
    fields = ["kind", "at", "actor", "note", "point_source", "point_time"]
    readonly_fields = fields
    can_delete = False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["id", "report", "supervisor", "state", "offered_at", "acknowledged_at", "closed_at"]
    list_filter = ["state"]
    search_fields = ["report__public_id", "supervisor__name"]
    raw_id_fields = ["report", "supervisor", "decision", "field_staff"]
    inlines = [StepInline]


@admin.register(Decision)
class DecisionAdmin(admin.ModelAdmin):
    list_display = ["id", "report", "at", "trigger", "outcome", "chosen", "duration_ms"]
    list_filter = ["outcome", "trigger"]
    search_fields = ["report__public_id"]
    raw_id_fields = ["report", "chosen"]
    readonly_fields = ["candidates", "suggestions"]


@admin.register(DispatchState)
class DispatchStateAdmin(admin.ModelAdmin):
    list_display = ["report", "version", "queue", "escalations", "reason"]
    list_filter = ["queue"]
    raw_id_fields = ["report"]


@admin.register(RoomHold)
class RoomHoldAdmin(admin.ModelAdmin):
    list_display = ["report", "facility", "state", "distance_m", "held_at", "decided_by"]
    list_filter = ["state"]
    raw_id_fields = ["report"]

from django.contrib import admin

from core.map_admin import MapAdmin

from .models import Camera


@admin.register(Camera)
class CameraAdmin(MapAdmin):
    list_display = ["code", "name", "opd", "direction", "active", "updated_at"]
    list_filter = ["opd", "active"]
    search_fields = ["code", "name", "direction"]

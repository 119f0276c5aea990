from django.contrib import admin

from .models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "key", "run_at", "state", "attempts"]
    list_filter = ["state", "kind"]
    search_fields = ["key"]

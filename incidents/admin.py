"""Admin: reference data (OPDs, categories), reports with their media and timeline, social posts."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from core.map_admin import MapAdmin

from .models import OPD, Category, DuplicateLink, Open311Client, Report, ReportEvent, ReportMedia, SocialPost
from .triage import text_of


@admin.register(OPD)
class OPDAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "full_name", "is_field_agency", "active"]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["code", "name_id", "name_en", "opd", "default_priority", "target_dispatch_minutes", "active"]
    list_filter = ["opd", "active"]
    search_fields = ["code", "name_id", "name_en"]


class ReportEventInline(admin.TabularInline):
    model = ReportEvent
    extra = 0
    readonly_fields = ["at", "actor", "actor_label", "kind", "from_status", "to_status", "note", "public", "data"]
    can_delete = False


class ReportMediaInline(admin.TabularInline):
    model = ReportMedia
    extra = 0
    fields = ["kind", "file", "thumbnail", "url", "content_type", "size_bytes", "exif_location", "exif_taken_at"]
    readonly_fields = fields


@admin.register(Report)
class ReportAdmin(MapAdmin):
    list_display = ["public_id", "category", "status", "priority", "kecamatan", "opd", "channel", "created_at"]
    list_filter = ["status", "channel", "opd", "category"]
    search_fields = ["public_id", "description"]
    readonly_fields = ["public_id", "status", "created_at", "updated_at", "routed_at", "dispatched_at"]
    raw_id_fields = ["kecamatan", "kelurahan", "reporter_user", "duplicate_of"]
    inlines = [ReportMediaInline, ReportEventInline]


@admin.register(SocialPost)
class SocialPostAdmin(MapAdmin):
    list_display = ["platform", "external_id", "author_handle", "state", "why_it_waits", "received_at"]
    list_filter = ["platform", "state"]
    raw_id_fields = ["report"]

    @admin.display(description=_("why it waits"))
    def why_it_waits(self, post: SocialPost) -> str:
        """The reasons in the operator's language; a post without reasons as data shows the API's text."""
        return text_of(post.reasons()) or post.triage_reason


@admin.register(Open311Client)
class Open311ClientAdmin(admin.ModelAdmin):
    list_display = ["name", "active", "created_at"]


@admin.register(DuplicateLink)
class DuplicateLinkAdmin(admin.ModelAdmin):
    list_display = ["report", "original", "distance_m", "decision"]
    raw_id_fields = ["report", "original"]

"""Admin: generations (activate one; upload a boundary file through the same loader as the command) and
the areas on a map."""

import shutil
import tempfile
from pathlib import Path

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from core.map_admin import MapAdmin

from .files import BoundaryFileError
from .forms import BoundaryUploadForm
from .loaders import activate_generation, load_boundaries
from .models import Generation, Kecamatan, Kelurahan
from .reading import LoadOptions, result_table


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = ["id", "level", "active", "source_name", "created_at", "activated_at", "loaded_by"]
    list_filter = ["level", "active"]
    readonly_fields = ["active", "activated_at", "created_at", "fields_used", "source_crs"]
    actions = ["activate"]
    change_list_template = "admin/kecamatan_boundaries/generation_changelist.html"

    @admin.action(description="Activate the selected generation")
    def activate(self, request: HttpRequest, queryset: QuerySet[Generation]) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one generation to activate.", messages.ERROR)
            return
        generation = queryset.get()
        activate_generation(generation)
        self.message_user(request, f"{generation} is now current.")

    def get_urls(self) -> list[URLPattern]:
        extra = [
            path(
                "upload/",
                self.admin_site.admin_view(self.upload_view),
                name="kecamatan_boundaries_generation_upload",
            )
        ]
        return extra + super().get_urls()

    def upload_view(self, request: HttpRequest) -> TemplateResponse:
        """GIS staff upload page: dry run by default, the same loader as the command."""
        if not request.user.has_perm("kecamatan_boundaries.add_generation"):
            return TemplateResponse(request, "admin/kecamatan_boundaries/upload.html", {"denied": True}, status=403)
        context = {**self.admin_site.each_context(request), "title": "Upload a boundary file", "opts": self.model._meta}
        status = 200
        if request.method == "POST":
            form = BoundaryUploadForm(request.POST, request.FILES)
            if form.is_valid():
                data = form.cleaned_data
                upload = data["file"]
                tmp = Path(tempfile.mkdtemp(prefix="geoapp-upload-"))
                try:
                    target = tmp / Path(upload.name).name
                    with open(target, "wb") as out:
                        for chunk in upload.chunks():
                            out.write(chunk)
                    options = LoadOptions(
                        level=data["level"],
                        name_field=data["name_field"] or None,
                        code_field=data["code_field"] or None,
                        parent_field=data["parent_field"] or None,
                        layer=data["layer"] or None,
                        srid=data["srid"],
                        encoding=data["encoding"] or None,
                        description=data["description"],
                        commit=data["commit"],
                        loaded_by=request.user.get_username(),
                        source_name=target.name,
                    )
                    result = load_boundaries(target, options)
                    context.update(result=result, table=result_table(result))
                except BoundaryFileError as exc:
                    form.add_error(None, exc.message)
                    status = 400
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
            else:
                status = 400
        else:
            form = BoundaryUploadForm()
        context["form"] = form
        return TemplateResponse(request, "admin/kecamatan_boundaries/upload.html", context, status=status)


@admin.register(Kecamatan)
class KecamatanAdmin(MapAdmin):
    list_display = ["code", "name", "area_km2", "generation"]
    list_filter = ["generation__active", "generation"]
    search_fields = ["code", "name"]


@admin.register(Kelurahan)
class KelurahanAdmin(MapAdmin):
    list_display = ["code", "name", "kecamatan_code", "area_km2", "generation"]
    list_filter = ["generation__active", "generation"]
    search_fields = ["code", "name", "kecamatan_code"]

"""Kecamatan and kelurahan boundaries, versioned by generation.

Why generations (the MapIt way): GIS staff receive new boundary files from BIG, BPS or the
city's surveys. A load never overwrites what is there: it writes a new, inactive `Generation`
with its own rows, and activating it flips the level's current generation in one transaction.
Rows of older generations stay, so a report keeps a foreign key to the kecamatan it was filed
in even after the lines move. Each level (kecamatan, kelurahan) has its own generations and at
most one active generation at a time (a partial unique index enforces it).

Point lookups follow one rule everywhere (PostGIS here, shapely in `lookup.BoundaryIndex`):
a polygon that covers the point wins; where neighbours overlap, the lowest code wins (the data
has small overlaps from independent simplification); a point in a sliver gap gets the nearest
polygon within BOUNDARIES_GAP_TOLERANCE_M metres; anything further is outside the city.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.gis.geos import Point
from django.db.models import Q
from django.db.models.expressions import RawSQL

from core.geo import within_metres

from . import settings as app_settings


class Level(models.TextChoices):
    KECAMATAN = "kecamatan", "Kecamatan"
    KELURAHAN = "kelurahan", "Kelurahan"


class GenerationQuerySet(models.QuerySet):
    def active(self) -> GenerationQuerySet:
        """The current generations (at most one per level)."""
        return self.filter(active=True)

    def for_level(self, level: str) -> GenerationQuerySet:
        return self.filter(level=level)


class Generation(models.Model):
    """One load of a level's boundaries; see the module's docstring for why loads are kept."""

    level = models.CharField(max_length=16, choices=Level.choices)
    description = models.CharField(max_length=255, blank=True)
    source_name = models.CharField(max_length=255, blank=True, help_text="file the boundaries came from")
    source_crs = models.CharField(max_length=64, blank=True)
    fields_used = models.JSONField(default=dict, blank=True)
    loaded_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    active = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)

    objects = GenerationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["level"], condition=Q(active=True), name="one_active_generation_per_level"),
        ]

    def __str__(self) -> str:
        state = "active" if self.active else "inactive"
        return f"{self.get_level_display()} generation {self.pk} ({state}, {self.source_name})"


class BoundaryQuerySet(models.QuerySet):
    def current(self) -> BoundaryQuerySet:
        """Rows of the level's active generation."""
        return self.filter(generation__active=True)

    def containing(self, point: Point) -> BoundaryQuerySet:
        """Current polygons that cover `point`, lowest code first (deterministic in overlaps)."""
        return self.current().filter(geom__covers=point).order_by("code")

    def near(self, point: Point, metres: float) -> BoundaryQuerySet:
        """Current polygons within `metres` (geodesic) of `point`, nearest first (then lowest code)."""
        return within_metres(self.current(), "geom", point, metres).order_by("distance_m", "code")

    def newest_with_codes(self, codes: Iterable[str]) -> BoundaryQuerySet:
        """One row per code: the current polygon, else the newest of an older generation (reports keep
        the rows they were filed under, so their codes outlive a boundary change)."""
        return self.filter(code__in=list(codes)).order_by("code", "-generation__active", "-id").distinct("code")

    def named(self, value: str) -> BoundaryQuerySet:
        """Rows whose code is `value` or whose name is it (any case), current generation first."""
        return self.filter(Q(code=value) | Q(name__iexact=value)).order_by("-generation__active", "-id")

    def with_point_inside(self) -> BoundaryQuerySet:
        """Annotated `point_inside`: the centre of the polygon's largest inscribed circle, deep inside
        and far from the small overlaps with its neighbours (where a place name is put on the map)."""
        table = self.model._meta.db_table
        centre = RawSQL(f'(ST_MaximumInscribedCircle("{table}"."geom")).center', (), output_field=models.PointField())
        return self.annotate(point_inside=centre)

    def at(self, point: Point) -> Kecamatan | Kelurahan | None:
        """The one polygon a point belongs to, by the rule in this module's docstring."""
        if point.srid and point.srid != settings.STORAGE_SRID:
            point = point.transform(settings.STORAGE_SRID, clone=True)
        found = self.containing(point).first()
        if found is None:
            found = self.near(point, app_settings.gap_tolerance_m()).first()
        return found


class Boundary(models.Model):
    """An area of one generation; Kecamatan and Kelurahan share its fields and questions."""

    generation = models.ForeignKey(Generation, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=120)
    code = models.CharField(max_length=32, help_text="Kemendagri code, e.g. 36.71.05")
    geom = models.MultiPolygonField(srid=4326)
    area_km2 = models.FloatField(help_text="area in km², measured in UTM 48S (EPSG:32748)")

    objects = BoundaryQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Kecamatan(Boundary):
    class Meta(Boundary.Meta):
        verbose_name_plural = "kecamatan"
        constraints = [
            models.UniqueConstraint(fields=["generation", "code"], name="kecamatan_code_unique_per_generation")
        ]


class Kelurahan(Boundary):
    kecamatan = models.ForeignKey(
        Kecamatan,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="kelurahan",
        help_text="the kecamatan (of the generation current at load time) this kelurahan lies in",
    )
    kecamatan_code = models.CharField(max_length=32, blank=True, db_index=True)

    class Meta(Boundary.Meta):
        verbose_name_plural = "kelurahan"
        constraints = [
            models.UniqueConstraint(fields=["generation", "code"], name="kelurahan_code_unique_per_generation")
        ]

"""Citizens' reports (LAKSA) and the agencies (OPD) that handle them."""

from django.contrib.gis.db import models


class OPD(models.Model):
    """A city agency (Organisasi Perangkat Daerah), e.g. Dishub or BPBD."""

    code = models.SlugField(max_length=32, unique=True, help_text="short stable code, e.g. dishub")
    name = models.CharField(max_length=120, help_text="short name, e.g. Dishub")
    full_name = models.CharField(max_length=255, blank=True, help_text="e.g. Dinas Perhubungan")
    name_en = models.CharField(max_length=255, blank=True, help_text="English name")
    is_field_agency = models.BooleanField(default=False, help_text="has field supervisors on SIGAP")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "OPD"
        verbose_name_plural = "OPD"

    def __str__(self) -> str:
        return self.name

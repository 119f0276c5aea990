"""First start: load the real Kota Tangerang boundaries through the same loader GIS staff use."""

from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from .loaders import load_boundaries
from .models import Generation, Level
from .reading import LoadOptions

FIXTURES = Path(settings.BASE_DIR) / "fixtures" / "kota_tangerang"
FILES = {
    Level.KECAMATAN: FIXTURES / "kota_tangerang_kecamatan.geojson",
    Level.KELURAHAN: FIXTURES / "kota_tangerang_kelurahan.geojson",
}


def load_city_boundaries(log: Callable[[str], object] = print) -> None:
    """Load each level from fixtures/ unless it already has an active generation."""
    for level, path in FILES.items():
        if Generation.objects.active().for_level(level).exists():
            continue
        opts = LoadOptions(
            level=level,
            parent_field="kecamatan_code" if level == Level.KELURAHAN else None,
            commit=True,
            description="Kota Tangerang, fixtures/kota_tangerang (MIT, see SOURCE.md)",
            loaded_by="bootstrap",
        )
        result = load_boundaries(path, opts)
        log(f"loaded {len(result.rows)} {level} from {path.name}")


def bootstrap(log: Callable[[str], object] = print) -> None:
    """The city's boundaries, as `manage.py bootstrap` loads them on first start."""
    load_city_boundaries(log)

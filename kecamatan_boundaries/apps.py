from django.apps import AppConfig


class KecamatanBoundariesConfig(AppConfig):
    name = "kecamatan_boundaries"
    verbose_name = "Boundaries (kecamatan and kelurahan)"

    def ready(self) -> None:
        from .lookup import kecamatan_index, kelurahan_index
        from .signals import boundaries_activated

        boundaries_activated.connect(kecamatan_index.invalidate, dispatch_uid="kecamatan_index")
        boundaries_activated.connect(kelurahan_index.invalidate, dispatch_uid="kelurahan_index")

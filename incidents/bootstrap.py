"""Reference data loaded on first start (and kept up to date): the OPDs of Kota Tangerang."""

from .models import OPD

OPDS = [
    # code, short name, full name, English, has field supervisors
    ("dishub", "Dishub", "Dinas Perhubungan", "Transport Agency", True),
    ("dbmsda", "DBMSDA", "Dinas Bina Marga dan Sumber Daya Air", "Roads and Water Resources Agency", True),
    ("dkp", "DKP", "Dinas Kebersihan dan Pertamanan", "Sanitation and Parks Agency", True),
    ("satpolpp", "Satpol PP", "Satuan Polisi Pamong Praja", "Civil Service Police Unit", True),
    ("bpbd", "BPBD", "Badan Penanggulangan Bencana Daerah", "Regional Disaster Management Agency", True),
    ("dinkes", "Dinkes", "Dinas Kesehatan", "Health Agency", False),
    ("diskominfo", "Diskominfo", "Dinas Komunikasi dan Informatika", "Communication and Informatics Agency", False),
]


def load_opds() -> None:
    for code, name, full_name, name_en, field in OPDS:
        OPD.objects.update_or_create(
            code=code,
            defaults={"name": name, "full_name": full_name, "name_en": name_en, "is_field_agency": field},
        )


def bootstrap(log=print) -> None:
    load_opds()

"""Reference data loaded on first start (and kept up to date): OPDs, categories and roles.

Edits made in the admin to names, targets and keywords survive: existing categories only get
fields that are still empty filled in; new categories are created.
"""

from collections.abc import Callable

from core.roles import ensure_roles

from .models import OPD, Category, Priority

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

_YES_NO = [{"key": "ya", "name": "Ya / Yes"}, {"key": "tidak", "name": "Tidak / No"}]

# code, Indonesian, English, OPD, priority, minutes to dispatch, minutes to resolve, group, keywords, attributes
CATEGORIES = [
    (
        "kemacetan",
        "Kemacetan",
        "Traffic congestion",
        "dishub",
        Priority.HIGH,
        15,
        120,
        "lalu lintas",
        ["macet", "kemacetan", "macet total", "padat merayap", "antrean kendaraan", "antrian kendaraan"],
        [],
    ),
    (
        "lampu-lalu-lintas-mati",
        "Lampu lalu lintas mati",
        "Traffic light out",
        "dishub",
        Priority.HIGH,
        15,
        240,
        "lalu lintas",
        ["lampu merah mati", "lampu lalu lintas mati", "lampu lalu lintas", "traffic light", "apill", "lampu merah"],
        [],
    ),
    (
        "banjir",
        "Banjir",
        "Flood",
        "bpbd",
        Priority.URGENT,
        10,
        720,
        "bencana",
        ["banjir", "kebanjiran", "terendam banjir", "air bah", "tanggul jebol"],
        [
            {
                "code": "kedalaman_cm",
                "datatype": "number",
                "required": False,
                "description": "Perkiraan kedalaman air (cm) / Estimated water depth (cm)",
            },
            {
                "code": "ada_pengungsi",
                "datatype": "singlevaluelist",
                "required": False,
                "description": "Ada warga yang perlu dievakuasi? / Anyone to evacuate?",
                "values": _YES_NO,
            },
        ],
    ),
    (
        "kebakaran",
        "Kebakaran",
        "Fire",
        "bpbd",
        Priority.URGENT,
        5,
        240,
        "bencana",
        ["kebakaran", "terbakar", "damkar", "api membesar", "asap tebal"],
        [
            {
                "code": "ada_korban",
                "datatype": "singlevaluelist",
                "required": False,
                "description": "Ada korban? / Anyone hurt?",
                "values": _YES_NO,
            }
        ],
    ),
    (
        "genangan-saluran-tersumbat",
        "Genangan / saluran tersumbat",
        "Standing water / blocked drain",
        "dbmsda",
        Priority.NORMAL,
        60,
        2880,
        "jalan dan air",
        ["genangan", "tergenang", "saluran tersumbat", "got mampet", "gorong-gorong", "drainase", "selokan mampet"],
        [],
    ),
    (
        "jalan-rusak",
        "Jalan rusak",
        "Damaged road",
        "dbmsda",
        Priority.NORMAL,
        120,
        10080,
        "jalan dan air",
        ["jalan rusak", "jalan berlubang", "lubang jalan", "aspal rusak", "jalan retak", "jalan amblas"],
        [],
    ),
    (
        "pohon-tumbang",
        "Pohon tumbang",
        "Fallen tree",
        "dkp",
        Priority.HIGH,
        20,
        240,
        "kebersihan dan taman",
        ["pohon tumbang", "pohon roboh", "pohon patah", "dahan patah", "ranting patah", "pohon"],
        [],
    ),
    (
        "sampah",
        "Sampah",
        "Rubbish",
        "dkp",
        Priority.LOW,
        240,
        2880,
        "kebersihan dan taman",
        ["sampah", "tumpukan sampah", "sampah menumpuk", "bau sampah", "buang sampah sembarangan"],
        [],
    ),
    (
        "gangguan-keamanan-ketertiban",
        "Gangguan keamanan dan ketertiban",
        "Security and public-order disturbance",
        "satpolpp",
        Priority.HIGH,
        15,
        240,
        "keamanan",
        ["tawuran", "keributan", "gangguan keamanan", "ketertiban", "begal", "pencurian", "preman", "pkl liar"],
        [],
    ),
    (
        "kamar-bersalin",
        "Kamar bersalin untuk ibu hamil",
        "Maternity room for a pregnant woman",
        "dinkes",
        Priority.URGENT,
        10,
        60,
        "kesehatan",
        ["kamar bersalin", "ibu hamil", "mau melahirkan", "melahirkan", "persalinan", "bersalin"],
        [
            {
                "code": "usia_kehamilan_minggu",
                "datatype": "number",
                "required": False,
                "description": "Usia kehamilan (minggu) / Weeks of pregnancy",
            },
            {
                "code": "rumah_sakit",
                "datatype": "singlevaluelist",
                "required": False,
                "description": "Rumah sakit pilihan / Preferred hospital",
                "values": [
                    {"key": "rsud", "name": "RSUD Kota Tangerang"},
                    {"key": "terdekat", "name": "Terdekat / Nearest"},
                ],
            },
        ],
    ),
]


def load_opds() -> None:
    """Create the OPDs, or bring their names up to date (the codes are stable)."""
    for code, name, full_name, name_en, field in OPDS:
        OPD.objects.update_or_create(
            code=code,
            defaults={"name": name, "full_name": full_name, "name_en": name_en, "is_field_agency": field},
        )


def load_categories() -> int:
    """Create missing categories; fill empty fields of existing ones. Returns how many were created."""
    opds = {o.code: o for o in OPD.objects.all()}
    created = 0
    for order, row in enumerate(CATEGORIES):
        code, name_id, name_en, opd, priority, dispatch_min, resolve_min, group, keywords, attributes = row
        values = {
            "name_id": name_id,
            "name_en": name_en,
            "opd": opds[opd],
            "default_priority": priority,
            "target_dispatch_minutes": dispatch_min,
            "target_resolve_minutes": resolve_min,
            "group": group,
            "keywords": keywords,
            "attributes": attributes,
            "sort_order": (order + 1) * 10,
        }
        category, was_created = Category.objects.get_or_create(code=code, defaults=values)
        created += was_created
        if not was_created:
            empty = {k: v for k, v in values.items() if getattr(category, k) in ("", [], None)}
            if empty:
                Category.objects.filter(pk=category.pk).update(**empty)
    return created


def bootstrap(log: Callable[[str], object] = print) -> None:
    """OPDs, categories and role groups, as `manage.py bootstrap` loads them on first start."""
    load_opds()
    created = load_categories()
    if created:
        log(f"loaded {created} report categories")
    ensure_roles()

"""Social posts as the platforms deliver them become reports, or wait in the operators' triage queue."""

import pytest
from django.utils import translation
from rest_framework.test import APIClient

from incidents.models import Channel, LocationSource, Report, SocialPost
from incidents.social import Gazetteer, classify
from incidents.triage import Triage, TriageReason, text_of

from .conftest import point_of
from .social_samples import FB_SECRET, TW_SECRET, VERIFY_TOKEN, fb_post, send_facebook, send_twitter, tweet

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def secrets(settings):
    settings.INCIDENTS_TWITTER_CONSUMER_SECRET = TW_SECRET
    settings.INCIDENTS_FACEBOOK_APP_SECRET = FB_SECRET
    settings.INCIDENTS_FACEBOOK_VERIFY_TOKEN = VERIFY_TOKEN


@pytest.fixture
def client(refdata):
    return APIClient()


def test_tweet_with_coordinates_becomes_a_report(client):
    p = point_of("Cimone")
    payload = tweet(
        "1860000000000000001",
        "@LAKSA_TNG pohon tumbang menutup jalan, mohon segera",
        coordinates={"type": "Point", "coordinates": [p.x, p.y]},
        media=[{"type": "photo", "media_url_https": "https://pbs.twimg.com/media/abc.jpg"}],
    )
    r = send_twitter(client, payload)
    assert r.status_code == 200, r.content
    assert r.json()["received"] == 1 and len(r.json()["reports"]) == 1
    report = Report.objects.get(public_id=r.json()["reports"][0])
    assert report.channel == Channel.TWITTER and report.category.code == "pohon-tumbang" and report.opd.code == "dkp"
    assert report.kelurahan.name == "Cimone" and report.location_source == LocationSource.SOCIAL
    assert report.reporter_handle == "@warga_tng" and report.external_id == "1860000000000000001"
    assert report.media.get().url == "https://pbs.twimg.com/media/abc.jpg"
    assert report.occurred_at.isoformat().startswith("2026-11-28")
    # the platform redelivers: nothing stored twice
    again = send_twitter(client, payload)
    assert again.status_code == 200 and again.json()["reports"] == r.json()["reports"]
    assert Report.objects.count() == 1 and SocialPost.objects.count() == 1


def test_tweet_without_coordinates_placed_by_kelurahan_name(client):
    r = send_twitter(client, tweet("1860000000000000002", "Banjir lagi di Kedaung Wetan, air masuk rumah warga"))
    report = Report.objects.get(public_id=r.json()["reports"][0])
    assert report.category.code == "banjir" and report.opd.code == "bpbd"
    assert report.kelurahan.name == "Kedaung Wetan" and report.location_source == LocationSource.GAZETTEER


def test_kecamatan_name_places_when_no_kelurahan_is_named(client):
    r = send_twitter(client, tweet("1860000000000000006", "macet parah di kecamatan Larangan sejak pagi"))
    report = Report.objects.get(public_id=r.json()["reports"][0])
    assert report.kecamatan.name == "Larangan" and report.category.code == "kemacetan"


def test_unplaceable_tweet_goes_to_triage(client):
    r = send_twitter(client, tweet("1860000000000000003", "macet total nih, parah banget"))
    assert r.json()["reports"] == [] and len(r.json()["triage"]) == 1
    post = SocialPost.objects.get()
    assert post.state == SocialPost.State.TRIAGE and post.suggested_category.code == "kemacetan"
    assert "no coordinates" in post.triage_reason
    assert Report.objects.count() == 0


def test_unclassifiable_tweet_goes_to_triage(client):
    r = send_twitter(client, tweet("1860000000000000004", "Selamat pagi warga Cipondoh Indah!"))
    post = SocialPost.objects.get(pk=r.json()["triage"][0])
    assert post.suggested_category is None and "no category keyword" in post.triage_reason


def test_tweet_outside_the_city_goes_to_triage(client):
    payload = tweet("1860000000000000005", "banjir", coordinates={"type": "Point", "coordinates": [106.8456, -6.2088]})
    r = send_twitter(client, payload)
    assert SocialPost.objects.get(pk=r.json()["triage"][0]).triage_reason.endswith("outside Kota Tangerang")


def test_facebook_post_with_place_and_without(client):
    p = point_of("Poris Gaga")
    r = send_facebook(
        client,
        fb_post(
            "777_1001",
            "Lampu merah mati di perempatan, semua macet",
            place={"name": "Perempatan Poris", "location": {"latitude": p.y, "longitude": p.x}},
            photos=["https://scontent.xx.fbcdn.net/v/p.jpg"],
        ),
    )
    assert r.status_code == 200, r.content
    report = Report.objects.get(public_id=r.json()["reports"][0])
    assert report.channel == Channel.FACEBOOK and report.category.code == "lampu-lalu-lintas-mati"
    assert report.opd.code == "dishub" and report.kelurahan.name == "Poris Gaga"
    assert report.reporter_name == "Ibu Rina"
    r = send_facebook(client, fb_post("777_1002", "Tolong, ada ibu hamil mau melahirkan di Sukasari, butuh kamar"))
    report = Report.objects.get(public_id=r.json()["reports"][0])
    assert report.category.code == "kamar-bersalin" and report.opd.code == "dinkes"
    assert report.kelurahan.name == "Sukasari"
    r = send_facebook(client, fb_post("777_1003", "sampah menumpuk berhari-hari"))
    assert r.json()["triage"] and not r.json()["reports"]


def test_operator_works_the_triage_queue(client, operator, planner):
    send_twitter(client, tweet("1860000000000000010", "macet total nih"))
    send_twitter(client, tweet("1860000000000000011", "iklan: jual motor murah"))
    assert client.get("/api/social/triage/").status_code == 403
    client.force_authenticate(planner)
    assert client.get("/api/social/triage/").status_code == 403
    client.force_authenticate(operator)
    queue = client.get("/api/social/triage/").json()
    queue = queue["results"] if isinstance(queue, dict) else queue
    assert [q["external_id"] for q in queue] == ["1860000000000000010", "1860000000000000011"]
    macet, iklan = queue[0]["id"], queue[1]["id"]
    # no location given and the post has none: refused
    r = client.post(f"/api/social/triage/{macet}/report/", {"category": "kemacetan"}, format="json")
    assert r.status_code == 400
    p = point_of("Karawaci")
    r = client.post(
        f"/api/social/triage/{macet}/report/", {"category": "kemacetan", "lat": p.y, "lon": p.x}, format="json"
    )
    assert r.status_code == 200, r.json()
    report = Report.objects.get(public_id=r.json()["report"])
    assert report.channel == Channel.TWITTER and report.location_source == LocationSource.OPERATOR
    assert report.events.first().actor == operator
    r = client.post(f"/api/social/triage/{iklan}/dismiss/", {"reason": "iklan"}, format="json")
    assert r.json()["state"] == "dismissed"
    assert SocialPost.objects.count() == 2  # nothing dropped
    assert client.post(f"/api/social/triage/{iklan}/dismiss/", {}, format="json").status_code == 400


@pytest.mark.parametrize(
    "text,code",
    [
        ("Banjir setinggi lutut", "banjir"),
        ("macet parah arah Cikokol", "kemacetan"),
        ("lampu merah mati bikin macet", "lampu-lalu-lintas-mati"),
        ("ada pohon tumbang", "pohon-tumbang"),
        ("got mampet, air tergenang", "genangan-saluran-tersumbat"),
        ("jalan berlubang besar", "jalan-rusak"),
        ("tumpukan sampah di pinggir jalan", "sampah"),
        ("ada tawuran pelajar", "gangguan-keamanan-ketertiban"),
        ("kebakaran rumah warga", "kebakaran"),
        ("ibu hamil butuh kamar bersalin", "kamar-bersalin"),
        ("selamat pagi", None),
    ],
)
def test_keyword_classification(refdata, text, code):
    category, _ = classify(text)
    assert (category.code if category else None) == code


def test_gazetteer_needs_a_cue_for_everyday_words(refdata):
    g = Gazetteer.current()
    assert g.find("hujan petir sejak sore")[0] is None  # 'petir' = lightning
    assert g.find("banjir di Petir")[0].name == "petir"
    assert g.find("macet di Kota Tangerang")[0] is None  # the city, not kecamatan Tangerang
    assert g.find("banjir di Cibodas Baru")[0].name == "cibodas baru"  # longest name wins


def test_every_gazetteer_point_lies_in_its_own_area(refdata):
    from incidents.social import normalise
    from kecamatan_boundaries.models import Kecamatan, Kelurahan

    entries = Gazetteer.current().entries
    assert len(entries) == 13 + 104
    for e in entries:
        model = Kelurahan if e.level == "kelurahan" else Kecamatan
        assert normalise(model.objects.at(e.point).name).strip() == e.name


def test_triage_reasons_are_kept_as_data_and_read_in_the_operators_language(client, operator):
    send_twitter(client, tweet("1860000000000000020", "ada sampah dan banjir, parah"))
    post = SocialPost.objects.get()
    assert post.reasons() == [
        Triage(TriageReason.AMBIGUOUS_CATEGORY, choices=("banjir", "sampah")),
        Triage(TriageReason.NO_PLACE),
    ]
    # the API's text is English, as integrators read it
    expected = "ambiguous category: banjir or sampah; no coordinates and no kelurahan or kecamatan name in the text"
    assert post.triage_reason == expected
    client.force_authenticate(operator)
    queue = client.get("/api/social/triage/", headers={"Accept-Language": "id"}).json()
    queue = queue["results"] if isinstance(queue, dict) else queue
    assert queue[0]["triage_reason"] == expected
    # people read it in their language
    with translation.override("id"):
        assert text_of(post.reasons()) == (
            "kategori tidak jelas: banjir atau sampah; "
            "tidak ada koordinat dan tidak ada nama kelurahan atau kecamatan dalam teks"
        )
    client.post(f"/api/social/triage/{post.pk}/dismiss/", {"reason": "bukan laporan"}, format="json")
    post.refresh_from_db()
    assert post.reasons()[-1] == Triage(TriageReason.DISMISSED, note="bukan laporan")
    assert post.triage_reason == f"{expected}; dismissed: bukan laporan"

"""Open311 GeoReport v2: every endpoint, in JSON and XML, with the spec's request and response shapes."""

from datetime import timedelta
from xml.etree import ElementTree as ET

import pytest
import requests
from django.test import Client

from incidents import lifecycle
from incidents.models import Channel, Open311Client, Report

from .conftest import JAKARTA, point_of

pytestmark = pytest.mark.django_db
BASE = "/open311/v2"
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}


@pytest.fixture
def api_key(refdata):
    return Open311Client.objects.create(name="FixMyKota").api_key


@pytest.fixture
def c(refdata):
    return Client()


def xml(response) -> ET.Element:
    assert response["Content-Type"].startswith("text/xml")
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(response.content)


def form(key, **kw):
    p = point_of("Sukarasa")
    data = {
        "api_key": key,
        "service_code": "banjir",
        "lat": str(p.y),
        "long": str(p.x),
        "description": "Banjir 40 cm",
        "first_name": "Budi",
        "last_name": "Santoso",
        "phone": "+62811000111",
        "email": "budi@example.org",
        "address_string": "Jl. Ki Samaun",
        "media_url": "https://example.org/foto.jpg",
        "attribute[kedalaman_cm]": "40",
        "attribute[ada_pengungsi]": "tidak",
    }
    data.update(kw)
    return {k: v for k, v in data.items() if v is not None}


def test_discovery_json_and_xml(c):
    r = c.get(f"{BASE}/discovery.json")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/json")
    d = r.json()
    assert {"changeset", "contact", "key_service", "endpoints"} <= set(d)
    ep = d["endpoints"][0]
    assert ep["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert ep["url"].endswith("/open311/v2/") and set(ep["formats"]) == {"text/xml", "application/json"}
    root = xml(c.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery"
    assert [f.text for f in root.find("endpoints/endpoint/formats")] == ["text/xml", "application/json"]


def test_services_json_and_xml(c):
    services = c.get(f"{BASE}/services.json").json()
    by_code = {s["service_code"]: s for s in services}
    assert {"kemacetan", "banjir", "kamar-bersalin"} <= set(by_code)
    s = by_code["banjir"]
    assert set(s) == {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
    assert s["metadata"] is True and s["type"] == "realtime" and "banjir" in s["keywords"]
    assert by_code["sampah"]["metadata"] is False
    root = xml(c.get(f"{BASE}/services.xml"))
    assert root.tag == "services"
    first = root.find("service")
    assert first.find("service_code").text and first.find("metadata").text in ("true", "false")


def test_service_definition_json_and_xml(c):
    d = c.get(f"{BASE}/services/banjir.json").json()
    assert d["service_code"] == "banjir"
    attr = {a["code"]: a for a in d["attributes"]}
    assert set(attr["ada_pengungsi"]) >= {"variable", "code", "datatype", "required", "order", "description", "values"}
    assert attr["ada_pengungsi"]["datatype"] == "singlevaluelist"
    assert {"key": "ya", "name": "Ya / Yes"} in attr["ada_pengungsi"]["values"]
    root = xml(c.get(f"{BASE}/services/banjir.xml"))
    assert root.tag == "service_definition" and root.find("service_code").text == "banjir"
    keys = [v.find("key").text for a in root.find("attributes") for v in a.findall("values/value")]
    assert "ya" in keys


def test_service_definition_unknown_or_without_metadata_is_404(c):
    r = c.get(f"{BASE}/services/tsunami.json")
    assert r.status_code == 404 and r.json()[0]["code"] == 404 and "tsunami" in r.json()[0]["description"]
    assert c.get(f"{BASE}/services/sampah.json").status_code == 404
    root = xml(c.get(f"{BASE}/services/tsunami.xml"))
    assert root.tag == "errors" and root.find("error/code").text == "404"


def test_post_request_json_stores_a_routed_report(c, api_key):
    r = c.post(f"{BASE}/requests.json", form(api_key))
    assert r.status_code == 200, r.content
    body = r.json()
    assert isinstance(body, list) and set(body[0]) == {"service_request_id", "service_notice", "account_id"}
    report = Report.objects.get(public_id=body[0]["service_request_id"])
    assert report.channel == Channel.OPEN311 and report.opd.code == "bpbd" and report.status == "routed"
    assert report.reporter_name == "Budi Santoso" and report.reporter_email == "budi@example.org"
    assert report.attributes == {"kedalaman_cm": "40", "ada_pengungsi": "tidak"}
    assert report.address == "Jl. Ki Samaun" and report.media.get().url == "https://example.org/foto.jpg"


def test_post_request_xml(c, api_key):
    root = xml(c.post(f"{BASE}/requests.xml", form(api_key, service_code="kemacetan")))
    assert root.tag == "service_requests"
    assert root.find("request/service_request_id").text


@pytest.mark.parametrize(
    "fmt,change,code,needle",
    [
        ("json", {"api_key": "wrong"}, 403, "api_key"),
        ("xml", {"api_key": None}, 403, "api_key"),
        ("json", {"service_code": "tsunami"}, 404, "tsunami"),
        ("xml", {"service_code": "tsunami"}, 404, "tsunami"),
        ("json", {"lat": "abc"}, 400, "lat"),
        ("json", {"lat": "NaN"}, 400, "lat"),
        ("json", {"long": "inf"}, 400, "long"),
        ("json", {"lat": "91"}, 400, "lat"),
        ("json", {"lat": None, "long": None}, 400, "lat"),
        ("json", {"lat": str(JAKARTA[0]), "long": str(JAKARTA[1])}, 400, "outside Kota Tangerang"),
        ("json", {"description": "x" * 2001}, 400, "description"),
        ("json", {"attribute[ada_pengungsi]": "mungkin"}, 400, "ada_pengungsi"),
        ("json", {"attribute[kedalaman_cm]": "dalam"}, 400, "kedalaman_cm"),
        ("xml", {"media_url": "javascript:alert(1)"}, 400, "media_url"),
    ],
)
def test_post_request_errors(c, api_key, fmt, change, code, needle):
    r = c.post(f"{BASE}/requests.{fmt}", form(api_key, **change))
    assert r.status_code == code
    if fmt == "json":
        err = r.json()
        assert isinstance(err, list) and err[0]["code"] == code and needle in err[0]["description"]
    else:
        root = xml(r)
        assert root.tag == "errors" and root.find("error/code").text == str(code)
        assert needle in root.find("error/description").text
    assert Report.objects.count() == 0


def test_inactive_client_key_is_403(c, api_key):
    Open311Client.objects.update(active=False)
    assert c.post(f"{BASE}/requests.json", form(api_key)).status_code == 403


def _made(c, api_key, n=3):
    ids = []
    for code in ["banjir", "kemacetan", "sampah"][:n]:
        ids.append(c.post(f"{BASE}/requests.json", form(api_key, service_code=code)).json()[0]["service_request_id"])
    return ids


def test_get_requests_fields_filters_and_status_mapping(c, api_key):
    banjir, macet, sampah = _made(c, api_key)
    rows = c.get(f"{BASE}/requests.json").json()
    assert {r["service_request_id"] for r in rows} == {banjir, macet, sampah}
    row = next(r for r in rows if r["service_request_id"] == banjir)
    assert set(row) == REQUEST_FIELDS
    assert row["status"] == "open" and row["status_notes"].startswith("routed")
    assert row["agency_responsible"] == "Badan Penanggulangan Bencana Daerah"
    assert row["requested_datetime"].endswith("+07:00") and row["expected_datetime"]
    assert "reporter" not in str(row) and "Budi" not in str(row)  # no personal data

    report = Report.objects.get(public_id=sampah)
    lifecycle.change_status(report, "referred", note="kewenangan provinsi")
    closed = c.get(f"{BASE}/requests.json?status=closed").json()
    assert [r["service_request_id"] for r in closed] == [sampah]
    assert closed[0]["status_notes"].startswith("referred") and "kewenangan provinsi" in closed[0]["status_notes"]
    assert {r["service_request_id"] for r in c.get(f"{BASE}/requests.json?status=open").json()} == {banjir, macet}
    assert [r["service_request_id"] for r in c.get(f"{BASE}/requests.json?service_code=kemacetan").json()] == [macet]
    both = c.get(f"{BASE}/requests.json?service_code=kemacetan,banjir").json()
    assert {r["service_request_id"] for r in both} == {banjir, macet}
    # service_request_id (comma-separated) wins over the other filters
    by_id = c.get(f"{BASE}/requests.json?service_request_id={banjir},{sampah}&status=open").json()
    assert {r["service_request_id"] for r in by_id} == {banjir, sampah}


def test_get_requests_date_window(c, api_key, settings):
    old, new, _ = _made(c, api_key)
    Report.objects.filter(public_id=old).update(
        created_at=Report.objects.get(public_id=old).created_at - timedelta(days=100)
    )
    ids = {r["service_request_id"] for r in c.get(f"{BASE}/requests.json").json()}
    assert old not in ids and new in ids  # the spec's default window: 90 days
    ids = {
        r["service_request_id"] for r in c.get(f"{BASE}/requests.json", {"start_date": "2000-01-01T00:00:00Z"}).json()
    }
    assert old in ids
    ids = c.get(f"{BASE}/requests.json", {"end_date": "2001-01-01T00:00:00+07:00"}).json()
    assert ids == []
    settings.INCIDENTS_OPEN311_MAX_REQUESTS = 2
    assert len(c.get(f"{BASE}/requests.json", {"start_date": "2000-01-01T00:00:00Z"}).json()) == 2


@pytest.mark.parametrize(
    "query",
    [
        "start_date=yesterday",
        "start_date=2026-01-01T00:00:00",
        "status=pending",
        "start_date=2026-02-01T00:00:00Z&end_date=2026-01-01T00:00:00Z",
    ],
)
def test_get_requests_bad_filters_are_400(c, query):
    r = c.get(f"{BASE}/requests.json?{query}")
    assert r.status_code == 400 and r.json()[0]["code"] == 400


def test_get_requests_xml_and_single_request(c, api_key):
    (rid,) = _made(c, api_key, 1)
    root = xml(c.get(f"{BASE}/requests.xml"))
    assert root.tag == "service_requests"
    req = root.find("request")
    assert {child.tag for child in req} == REQUEST_FIELDS
    assert req.find("status").text == "open"
    one = c.get(f"{BASE}/requests/{rid}.json").json()
    assert len(one) == 1 and one[0]["service_request_id"] == rid and float(one[0]["lat"]) < 0
    root = xml(c.get(f"{BASE}/requests/{rid}.xml"))
    assert root.find("request/service_request_id").text == rid
    r = c.get(f"{BASE}/requests/NOPE.json")
    assert r.status_code == 404 and r.json()[0]["code"] == 404
    assert xml(c.get(f"{BASE}/requests/NOPE.xml")).find("error/code").text == "404"


def test_text_is_stored_as_sent_and_escaped_in_xml(c, api_key):
    text = "<script>alert('x')</script> & banjir"
    (rid,) = [c.post(f"{BASE}/requests.json", form(api_key, description=text)).json()[0]["service_request_id"]]
    assert Report.objects.get(public_id=rid).description == text
    raw = c.get(f"{BASE}/requests/{rid}.xml").content
    assert b"<script>" not in raw and b"&lt;script&gt;" in raw
    assert xml(c.get(f"{BASE}/requests/{rid}.xml")).find("request/description").text == text


def test_open311_over_http(live_server, api_key):
    r = requests.post(f"{live_server.url}{BASE}/requests.json", data=form(api_key), timeout=30)
    assert r.status_code == 200
    rid = r.json()[0]["service_request_id"]
    got = requests.get(f"{live_server.url}{BASE}/requests/{rid}.json", timeout=30).json()
    assert got[0]["service_code"] == "banjir"

"""Open311 GeoReport v2 endpoints at /open311/v2/ (JSON and XML). Logic lives in incidents/open311.py."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from core.api import DomainError

from . import open311
from .open311 import Open311Error

ROOTS = {
    "services": ("services", "service"),
    "service_definition": ("service_definition", None),
    "requests": ("service_requests", "request"),
    "discovery": ("discovery", None),
}


def _render(fmt: str, kind: str, data: list[dict] | dict, status: int = 200) -> HttpResponse:
    if fmt == "xml":
        root, item = ROOTS[kind]
        body = open311.to_xml(root, item, data)
    else:
        body = json.dumps(data, ensure_ascii=False).encode()
    return HttpResponse(body, status=status, content_type=open311.FORMATS[fmt])


def _error(fmt: str, code: int, description: str) -> HttpResponse:
    errors = [{"code": code, "description": description}]
    if fmt == "xml":
        return HttpResponse(open311.errors_xml(errors), status=code, content_type=open311.FORMATS["xml"])
    return HttpResponse(json.dumps(errors, ensure_ascii=False), status=code, content_type=open311.FORMATS["json"])


def _guarded(handler: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    def view(request: HttpRequest, fmt: str, **kwargs: str) -> HttpResponse:
        try:
            return handler(request, fmt, **kwargs)
        except Open311Error as exc:
            return _error(fmt, exc.code, exc.description)
        except DomainError as exc:
            code = exc.status_code if exc.status_code in (403, 404) else 400
            return _error(fmt, code, exc.message)

    view.__name__ = handler.__name__
    view.__doc__ = handler.__doc__
    return view


@require_http_methods(["GET"])
@_guarded
def discovery(request: HttpRequest, fmt: str) -> HttpResponse:
    """GET discovery.{json,xml}: where the endpoint is and who runs it."""
    return _render(fmt, "discovery", open311.discovery(request.build_absolute_uri("/open311/v2/")))


@require_http_methods(["GET"])
@_guarded
def services(request: HttpRequest, fmt: str) -> HttpResponse:
    """GET services.{json,xml}: the categories."""
    return _render(fmt, "services", open311.services())


@require_http_methods(["GET"])
@_guarded
def service_definition(request: HttpRequest, fmt: str, code: str) -> HttpResponse:
    """GET services/<code>.{json,xml}: a category's extra questions."""
    return _render(fmt, "service_definition", open311.service_definition(code))


@csrf_exempt
@require_http_methods(["GET", "POST"])
@_guarded
def requests_(request: HttpRequest, fmt: str) -> HttpResponse:
    """GET requests.{json,xml}: find reports; POST: make one (a client's api_key)."""
    if request.method == "POST":
        client = open311.authenticate(request.POST.get("api_key"))
        report = open311.post_request(request.POST, client)
        row = {"service_request_id": report.public_id, "service_notice": "", "account_id": None}
        return _render(fmt, "requests", [row])
    rows = [open311.request_row(r) for r in open311.find_requests(request.GET)]
    return _render(fmt, "requests", rows)


@require_http_methods(["GET"])
@_guarded
def request_detail(request: HttpRequest, fmt: str, request_id: str) -> HttpResponse:
    """GET requests/<id>.{json,xml}: one report."""
    found = list(open311.find_requests({"service_request_id": request_id}))
    if not found:
        raise Open311Error(404, f"service request {request_id!r} not found")
    return _render(fmt, "requests", [open311.request_row(found[0])])

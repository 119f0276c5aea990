"""The pages: sign-in, the operators' console, the leadership view, the field app and the citizens' page.

Each page checks who may open it on the server (console/permissions.py); the data comes from the
APIs (the domain apps' and the console's own map layers), which check again on every request.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie

from core.roles import GIS_STAFF, PLANNER, has_role
from incidents.models import OPD, Category, Status
from kecamatan_boundaries.models import Kecamatan

from .. import settings as cs
from ..jsi18n import js_strings
from ..permissions import can_watch, is_operator, supervisor_of
from .common import indonesian_default


def _home_for(user) -> str:
    """Where a role lands after signing in (without a `next`), or when it opens the login page."""
    if is_operator(user):
        return reverse("console:console")
    if supervisor_of(user):
        return reverse("console:field")
    if has_role(user, PLANNER):
        return reverse("planning-page")
    if can_watch(user):
        return reverse("console:leadership")
    if has_role(user, GIS_STAFF):
        return reverse("admin:kecamatan_boundaries_generation_changelist")
    return reverse("console:lapor")


class _LoginView(auth_views.LoginView):
    """Django's login; without `next` each role lands on its own page (not /accounts/profile/)."""

    template_name = "console/login.html"

    def get_default_redirect_url(self) -> str:
        return _home_for(self.request.user)

    def get_context_data(self, **kwargs):
        lang = translation.get_language()
        return super().get_context_data(lang=lang, other_lang="en" if lang == "id" else "id", **kwargs)


def _page_context(request, **extra) -> dict:
    lang = translation.get_language()
    return {
        "tile_url": cs.tile_url(),
        "tile_attribution": cs.tile_attribution(),
        "lang": lang,
        "other_lang": "en" if lang == "id" else "id",
        "t": js_strings(),
        **extra,
    }


def _reference(lang: str) -> dict:
    cats = [
        {"code": c.code, "name": c.name_en if lang == "en" and c.name_en else c.name_id, "opd": c.opd.code}
        for c in Category.objects.filter(active=True).select_related("opd")
    ]
    opds = [{"code": o.code, "name": o.name} for o in OPD.objects.filter(active=True)]
    kec = [{"code": k.code, "name": k.name} for k in Kecamatan.objects.current().order_by("name")]
    statuses = [{"code": s.value, "name": _status_label(s.value)} for s in Status]
    return {"categories": cats, "opds": opds, "kecamatan": kec, "statuses": statuses}


def _status_label(code: str) -> str:
    label = dict(Status.choices).get(code, code)
    idn, _sep, en = label.partition(" / ")
    return (en or idn) if translation.get_language() == "en" else idn


@indonesian_default
def login_view(request):
    if request.user.is_authenticated and request.method == "GET" and not request.GET.get("next"):
        return redirect(_home_for(request.user))
    return _LoginView.as_view(redirect_authenticated_user=False)(request)


@indonesian_default
def logout_view(request):
    if request.method != "POST":
        return redirect("console:login")
    return auth_views.LogoutView.as_view(next_page=reverse("console:login"))(request)


def _need(check, request):
    if not request.user.is_authenticated:
        return redirect(f"{reverse('console:login')}?next={request.path}")
    if not check(request.user):
        raise PermissionDenied(_("Your account may not open this page."))
    return None


@never_cache
@ensure_csrf_cookie
@indonesian_default
def console_page(request):
    if request.user.is_authenticated and not is_operator(request.user) and can_watch(request.user):
        return redirect("console:leadership")  # leadership and planners: the read-only view
    if (refusal := _need(is_operator, request)) is not None:
        return refusal
    ctx = _page_context(request, ref=_reference(translation.get_language()), role="operator")
    return render(request, "console/console.html", ctx)


@never_cache
@ensure_csrf_cookie
@indonesian_default
def leadership_page(request):
    if (refusal := _need(can_watch, request)) is not None:
        return refusal
    ctx = _page_context(request, ref=_reference(translation.get_language()), role="leadership")
    return render(request, "console/leadership.html", ctx)


@never_cache
@ensure_csrf_cookie
@indonesian_default
def field_page(request):
    if (refusal := _need(lambda u: supervisor_of(u) is not None, request)) is not None:
        return refusal
    sup = supervisor_of(request.user)
    return render(request, "console/field.html", _page_context(request, supervisor=sup))


@ensure_csrf_cookie
@indonesian_default
def lapor_page(request):
    ctx = _page_context(request, ref=_reference(translation.get_language()))
    return render(request, "console/lapor.html", ctx)


def field_manifest(request):
    body = {
        "name": "SIGAP - Pengawas Lapangan Kota Tangerang",
        "short_name": "SIGAP",
        "start_url": "/field/",
        "scope": "/field/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#0b4f8a",
        "icons": [
            {"src": static("console/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("console/icon-512.png"), "sizes": "512x512", "type": "image/png"},
        ],
    }
    return JsonResponse(body, content_type="application/manifest+json")


def field_service_worker(request):
    """Served from /field/ so its scope is the field app (a static URL could not control /field/)."""
    path = settings.BASE_DIR / "console" / "static" / "console" / "field-sw.js"
    response = HttpResponse(path.read_text(), content_type="application/javascript")
    response["Service-Worker-Allowed"] = "/field/"
    response["Cache-Control"] = "no-cache"
    return response

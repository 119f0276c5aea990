from django.urls import path

from .views import field_app, live_map, pages

app_name = "console"

urlpatterns = [
    path("console/", pages.console_page, name="console"),
    path("console/login/", pages.login_view, name="login"),
    path("console/logout/", pages.logout_view, name="logout"),
    path("console/leadership/", pages.leadership_page, name="leadership"),
    path("pimpinan/", pages.leadership_page, name="leadership-short"),
    path("console/api/reports/", live_map.MapReportsView.as_view(), name="api-reports"),
    path(
        "console/api/reports/<str:public_id>/candidates/",
        live_map.ReportCandidatesView.as_view(),
        name="api-report-candidates",
    ),
    path("console/api/supervisors/", live_map.MapSupervisorsView.as_view(), name="api-supervisors"),
    path("console/api/cameras/", live_map.CamerasView.as_view(), name="api-cameras"),
    path("console/api/today/", live_map.TodayView.as_view(), name="api-today"),
    path("field/", pages.field_page, name="field"),
    path("field/manifest.webmanifest", pages.field_manifest, name="field-manifest"),
    path("field/sw.js", pages.field_service_worker, name="field-sw"),
    path("field/api/me/", field_app.FieldMeView.as_view(), name="field-me"),
    path("field/api/shift/", field_app.FieldShiftView.as_view(), name="field-shift"),
    path("lapor/", pages.lapor_page, name="lapor"),
]

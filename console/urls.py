from django.urls import path

from . import views

app_name = "console"

urlpatterns = [
    path("console/", views.console_page, name="console"),
    path("console/login/", views.login_view, name="login"),
    path("console/logout/", views.logout_view, name="logout"),
    path("console/leadership/", views.leadership_page, name="leadership"),
    path("pimpinan/", views.leadership_page, name="leadership-short"),
    path("console/api/boundaries/", views.BoundariesView.as_view(), name="api-boundaries"),
    path("console/api/reports/", views.MapReportsView.as_view(), name="api-reports"),
    path("console/api/reports/<str:public_id>/", views.ReportDetailView.as_view(), name="api-report"),
    path("console/api/reports/<str:public_id>/action/", views.ReportActionView.as_view(), name="api-report-action"),
    path("console/api/supervisors/", views.MapSupervisorsView.as_view(), name="api-supervisors"),
    path("console/api/cameras/", views.CamerasView.as_view(), name="api-cameras"),
    path("console/api/today/", views.TodayView.as_view(), name="api-today"),
    path("field/", views.field_page, name="field"),
    path("field/manifest.webmanifest", views.field_manifest, name="field-manifest"),
    path("field/sw.js", views.field_service_worker, name="field-sw"),
    path("field/api/me/", views.FieldMeView.as_view(), name="field-me"),
    path("field/api/shift/", views.FieldShiftView.as_view(), name="field-shift"),
    path("field/api/pings/", views.FieldPingsView.as_view(), name="field-pings"),
    path("field/api/orders/", views.FieldOrdersView.as_view(), name="field-orders"),
    path("field/api/orders/<str:public_id>/<str:step>/", views.FieldOrderStepView.as_view(), name="field-step"),
    path("lapor/", views.lapor_page, name="lapor"),
]

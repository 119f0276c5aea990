from django.urls import path, re_path

from . import views, views_open311, views_social

FMT = r"\.(?P<fmt>json|xml)"

urlpatterns = [
    path("api/reports/", views.ReportListCreate.as_view(), name="report-list"),
    path("api/reports/<str:public_id>/", views.ReportDetail.as_view(), name="report-detail"),
    path("api/reports/<str:public_id>/status/", views.ReportStatusChange.as_view(), name="report-status"),
    path("api/reports/<str:public_id>/recategorise/", views.ReportRecategorise.as_view(), name="report-recategorise"),
    path("api/reports/<str:public_id>/merge/", views.ReportMerge.as_view(), name="report-merge"),
    path("api/reports/<str:public_id>/notes/", views.ReportNote.as_view(), name="report-notes"),
    path("api/categories/", views.CategoryList.as_view(), name="category-list"),
    path("api/social/twitter/", views_social.TwitterWebhook.as_view(), name="social-twitter"),
    path("api/social/facebook/", views_social.FacebookWebhook.as_view(), name="social-facebook"),
    path("api/social/triage/", views_social.TriageList.as_view(), name="social-triage"),
    path("api/social/triage/<int:pk>/report/", views_social.TriageReport.as_view(), name="social-triage-report"),
    path("api/social/triage/<int:pk>/dismiss/", views_social.TriageDismiss.as_view(), name="social-triage-dismiss"),
    path("r/<str:public_id>.json", views.FollowUpJSON.as_view(), name="report-follow-json"),
    path("r/<str:public_id>", views.follow_up_page, name="report-follow"),
    re_path(rf"^open311/v2/discovery{FMT}$", views_open311.discovery, name="open311-discovery"),
    re_path(rf"^open311/v2/services{FMT}$", views_open311.services, name="open311-services"),
    re_path(rf"^open311/v2/services/(?P<code>[\w-]+){FMT}$", views_open311.service_definition, name="open311-service"),
    re_path(rf"^open311/v2/requests{FMT}$", views_open311.requests_, name="open311-requests"),
    re_path(
        rf"^open311/v2/requests/(?P<request_id>[\w-]+){FMT}$", views_open311.request_detail, name="open311-request"
    ),
]

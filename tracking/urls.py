from django.urls import path

from . import views

urlpatterns = [
    path("api/tracking/pings/", views.NativePings.as_view(), name="tracking-pings"),
    path("tracking/osmand/", views.OsmAndPings.as_view(), name="tracking-osmand"),
    path("tracking/owntracks/", views.OwnTracksPings.as_view(), name="tracking-owntracks"),
    path("api/tracking/supervisors/", views.SupervisorList.as_view(), name="tracking-supervisors"),
    path("api/tracking/attendance/", views.AttendanceExport.as_view(), name="tracking-attendance"),
]

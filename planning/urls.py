from django.urls import path

from . import views

urlpatterns = [
    path("planning/", views.planning_page, name="planning-page"),
    path("planning/map/", views.map_preview, name="planning-map"),
    path("api/planning/stats/", views.PlanningStats.as_view(), name="planning-stats"),
    path("api/planning/export/", views.PlanningExport.as_view(), name="planning-export"),
]

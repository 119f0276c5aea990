from django.urls import path

from . import views

urlpatterns = [
    path("api/kecamatan/", views.KecamatanList.as_view(), name="kecamatan-list"),
    path("api/kecamatan/<str:code>/", views.KecamatanDetail.as_view(), name="kecamatan-detail"),
    path("api/kelurahan/", views.KelurahanList.as_view(), name="kelurahan-list"),
    path("api/kelurahan/<str:code>/", views.KelurahanDetail.as_view(), name="kelurahan-detail"),
    path("api/boundaries/lookup/", views.BoundaryLookup.as_view(), name="boundary-lookup"),
]

"""The admin upload form: the command's options for one boundary file."""

from django import forms

from .models import Level


class BoundaryUploadForm(forms.Form):
    file = forms.FileField(help_text="a zipped shapefile, a .shp, a .gpkg or a .geojson")
    level = forms.ChoiceField(choices=Level.choices)
    name_field = forms.CharField(required=False)
    code_field = forms.CharField(required=False)
    parent_field = forms.CharField(required=False, help_text="kelurahan: kecamatan code or name field")
    layer = forms.CharField(required=False, help_text="GeoPackage layer or shapefile name in a zip")
    srid = forms.IntegerField(required=False, help_text="EPSG code, when the file has no CRS")
    encoding = forms.CharField(required=False)
    description = forms.CharField(required=False)
    commit = forms.BooleanField(required=False, help_text="write and activate; unticked = dry run")

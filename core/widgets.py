"""Map widgets for the admin whose assets the app serves itself (Django's default uses a CDN)."""

from django.contrib.gis.forms.widgets import OSMWidget


class LocalOSMWidget(OSMWidget):
    """OpenLayers from geoapp/static/vendor (npm `ol`), centred on Kota Tangerang."""

    default_lon = 106.64
    default_lat = -6.18
    default_zoom = 12

    class Media:
        extend = False
        css = {"all": ("vendor/ol/ol.css", "gis/css/ol3.css")}
        js = ("vendor/ol/ol.js", "gis/js/OLMapWidget.js")

"""The console's views, by family: pages.py (the pages), live_map.py (the map's layers and the
operator's candidates), field_app.py (the field app's shift), common.py (language, API base).

Views only translate HTTP: permissions are checked on every request (console/permissions.py), the
work is done in features/layers/orders/field. The reports' and orders' operations are the domain
apps' endpoints, which the pages call like any other client.
"""

"""geoapp's database backend: Django's PostGIS backend with the pool's per-request costs trimmed (base.py)."""

"""geoapp's database backend (ENGINE "core.db"): Django's PostGIS backend, safe to fork (base.py)."""

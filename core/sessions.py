"""Sessions in the database, refusing malformed session keys before they reach a query.

Django accepts any cookie value of 8+ characters as a session key and looks it up; a crafted
cookie holding a NUL byte then fails inside PostgreSQL (DataError) and every page answered 500.
Keys Django makes are lowercase letters and digits, so anything else is treated as no session.
"""

import re

from django.contrib.sessions.backends.db import SessionStore as DBSessionStore

_KEY = re.compile(r"[a-z0-9]{8,40}")


class SessionStore(DBSessionStore):
    def _validate_session_key(self, key):
        return bool(key) and _KEY.fullmatch(key) is not None

"""Sessions in the database, refusing malformed session keys before they reach a query.

Django accepts any cookie value of 8+ characters as a session key and looks it up; a crafted
cookie holding a NUL byte then fails inside PostgreSQL (DataError) and every page answered 500.
Keys Django makes are lowercase letters and digits, so anything else is treated as no session:
the store is made without it (`SessionStore(session_key)` is how Django's middleware, and Channels',
hand it the cookie).
"""

import re

from django.contrib.sessions.backends.db import SessionStore as DBSessionStore

_KEY = re.compile(r"[a-z0-9]{8,40}")


class SessionStore(DBSessionStore):
    def __init__(self, session_key: str | None = None):
        super().__init__(session_key if session_key and _KEY.fullmatch(session_key) else None)

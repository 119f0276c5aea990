"""One way for an app to read its settings: a prefixed name, a default with its unit, read at call time.

Each app's `settings.py` makes one `AppSettings` and defines a function per setting, so a reader
sees the name, the default and the unit in one line, `override_settings` applies in tests, and
the environment is read only by `geoapp/settings.py`. Values are remembered per name: the ping
path reads ~20 of them per upload, and Django's lookup of a name that is not set raises and
catches an AttributeError each time. `setting_changed` (sent by `override_settings`) forgets
them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings as dj
from django.core.signals import setting_changed

_UNSET = object()  # the setting is not in Django's settings
_UNREAD = object()


class AppSettings:
    """The settings of one app, each named `<prefix>_<NAME>`."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._read: dict[str, object] = {}
        setting_changed.connect(self._forget, dispatch_uid=f"core.appsettings.{prefix}", weak=False)

    def get(self, name: str, default: Any) -> Any:
        """The setting `name` (the full name, with the prefix), or `default` when it is not set."""
        value = self._read.get(name, _UNREAD)
        if value is _UNREAD:
            value = self._read[name] = getattr(dj, name, _UNSET)
        return default if value is _UNSET else value

    def _forget(self, **kwargs: Any) -> None:
        self._read.clear()

"""`make faults`: the project's settings with a media storage whose disk is full (every write
raises OSError(ENOSPC)), as a server process sees it when MEDIA_ROOT's filesystem fills up."""

from geoapp.settings import *  # noqa: F403

STORAGES = {
    "default": {"BACKEND": "loadtest.full_disk_settings.FullDiskStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

import errno  # noqa: E402

from django.core.files.storage import FileSystemStorage  # noqa: E402


class FullDiskStorage(FileSystemStorage):
    """Writes the first FULL_AFTER_BYTES bytes of a file (a real, partial file on disk), then fails."""

    FULL_AFTER_BYTES = 1024

    def _save(self, name, content):
        path = self.path(name)
        import os

        os.makedirs(os.path.dirname(path), exist_ok=True)
        content.seek(0)
        with open(path, "wb") as f:
            f.write(content.read(self.FULL_AFTER_BYTES))
        raise OSError(errno.ENOSPC, "No space left on device", path)

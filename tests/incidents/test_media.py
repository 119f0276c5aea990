"""Media: the type comes from the content, caps hold, photos get thumbnails and give EXIF place/time."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from incidents.media import MediaError, inspect_upload, inspect_uploads

from . import samples
from .conftest import point_of


def up(data: bytes, name: str = "file.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


@pytest.mark.parametrize(
    "data,name,mime,kind",
    [
        (samples.photo("JPEG"), "a.jpg", "image/jpeg", "photo"),
        (samples.photo("PNG"), "a.png", "image/png", "photo"),
        (samples.photo("WEBP"), "a.webp", "image/webp", "photo"),
        (samples.photo("HEIF"), "IMG_0001.HEIC", "image/heic", "photo"),
        (samples.MP4, "v.mp4", "video/mp4", "video"),
        (samples.THREE_GP, "v.3gp", "video/3gpp", "video"),
        (samples.MOV, "v.mov", "video/quicktime", "video"),
        # the name lies; the content decides
        (samples.photo("PNG"), "looks-like.mp4", "image/png", "photo"),
        (samples.MP4, "looks-like.jpg", "video/mp4", "video"),
    ],
)
def test_type_is_judged_by_content(data, name, mime, kind):
    item = inspect_upload(up(data, name))
    assert (item.content_type, item.kind) == (mime, kind)


@pytest.mark.parametrize(
    "data,name",
    [(samples.EXE, "photo.jpg"), (samples.ELF, "photo.jpg"), (samples.TEXT, "shell.png"), (b"", "empty.jpg")],
)
def test_disallowed_content_is_refused_whatever_the_name(data, name):
    with pytest.raises(MediaError) as err:
        inspect_upload(up(data, name))
    assert name in err.value.message and "not an allowed file" in err.value.message


def test_a_truncated_jpeg_is_refused():
    data = samples.photo("JPEG")[:200]
    with pytest.raises(MediaError, match="cannot be read"):
        inspect_upload(up(data))


def test_size_and_count_caps(settings):
    settings.INCIDENTS_MEDIA_MAX_PHOTO_BYTES = 1000
    with pytest.raises(MediaError, match="over the photo limit of 1000 bytes"):
        inspect_upload(up(samples.photo("JPEG") + b"\x00" * 1000))
    settings.INCIDENTS_MEDIA_MAX_FILES = 2
    with pytest.raises(MediaError, match="at most 2 per report"):
        inspect_uploads([up(samples.MP4, f"{i}.mp4") for i in range(3)])


def test_thumbnail_and_exif_position_and_time():
    where = point_of("Sukarasa")
    item = inspect_upload(up(samples.photo("JPEG", lat=where.y, lon=where.x, taken="2026:11:29 08:15:00")))
    assert item.exif_location is not None
    assert abs(item.exif_location.x - where.x) < 1e-5 and abs(item.exif_location.y - where.y) < 1e-5
    assert item.exif_taken_at.isoformat() == "2026-11-29T08:15:00+07:00"
    assert item.thumbnail[:2] == b"\xff\xd8" and (item.width, item.height) == (640, 480)


def test_photo_without_gps_has_no_position():
    item = inspect_upload(up(samples.photo("JPEG")))
    assert item.exif_location is None and item.exif_taken_at is None

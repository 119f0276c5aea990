"""Literal media samples built in memory: photos with and without EXIF GPS, video headers, an executable."""

import io

import pillow_heif
from PIL import Image

pillow_heif.register_heif_opener()


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    d = int(value)
    m = int((value - d) * 60)
    s = round((value - d - m / 60) * 3600, 4)
    return (float(d), float(m), s)


def photo(fmt: str = "JPEG", lat: float | None = None, lon: float | None = None, taken: str | None = None) -> bytes:
    img = Image.new("RGB", (640, 480), (200, 40, 40))
    exif = Image.Exif()
    if lat is not None:
        exif[0x8825] = {1: "S" if lat < 0 else "N", 2: _dms(lat), 3: "E" if lon >= 0 else "W", 4: _dms(lon)}
    if taken:
        exif[0x8769] = {0x9003: taken, 0x9011: "+07:00"}
    out = io.BytesIO()
    img.save(out, fmt, exif=exif) if fmt in ("JPEG", "WEBP", "PNG") else img.save(out, fmt)
    return out.getvalue()


def iso_media(brand: bytes) -> bytes:
    """The first box of an ISO base-media file (MP4, 3GP, MOV, HEIC) and some filler."""
    return b"\x00\x00\x00\x18ftyp" + brand + b"\x00\x00\x02\x00" + brand + b"mp41" + b"\x00\x00\x00\x08free" * 64


MP4 = iso_media(b"isom")
THREE_GP = iso_media(b"3gp4")
MOV = iso_media(b"qt  ")
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200  # a Windows executable
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200
TEXT = b"<?php system($_GET['c']); ?>"

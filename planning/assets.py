"""The interactive map's front-end files: our vendored copies, never folium's CDN links.

folium elements name the scripts and styles they need in `default_js`/`default_css` (name, CDN
URL). `take_assets` empties those lists on every element the map is built from and returns our
copies to load instead, in order: linked from /static/vendor/ when the app serves the page, or
inlined for a downloaded HTML file that must open offline. A name not in LOCAL_JS/LOCAL_CSS
stops the map (a folium upgrade wants something new), and `check_no_links_out` refuses a
rendered page that still links another host, so nothing reaches a browser from a CDN.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable
from pathlib import Path

from django.contrib.staticfiles import finders
from django.templatetags.static import static

from .filters import PlanningError

# folium's asset names -> our vendored files (None = not needed by anything we draw).
LOCAL_JS = {
    "leaflet": "vendor/leaflet/leaflet.js",
    "leaflet-heat.js": "vendor/leaflet.heat/leaflet-heat.js",
    "jquery": None,
    "bootstrap": None,
    "awesome_markers": None,
}
LOCAL_CSS = {
    "leaflet_css": "vendor/leaflet/leaflet.css",
    "bootstrap_css": None,
    "glyphicons_css": None,
    "awesome_markers_font_css": None,
    "awesome_markers_css": None,
    "awesome_rotate_css": None,
}
_LINK_OUT = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//", re.IGNORECASE)


class AssetsMissing(PlanningError):
    """The vendored front-end files are not installed (503: the server's set-up, not the request)."""

    status_code = 503


def take_assets(elements: Iterable[object]) -> tuple[list[str], list[str]]:
    """Strip folium's CDN links from `elements`; the vendored (css, js) files to load instead, in order."""
    css: list[str] = []
    js: list[str] = []
    for element in elements:
        for attr, table, found in (("default_css", LOCAL_CSS, css), ("default_js", LOCAL_JS, js)):
            if not hasattr(element, attr):
                continue
            for name, _url in getattr(element, attr):
                if name not in table:
                    raise RuntimeError(f"folium wants {name!r} from a CDN; map it in planning.assets")
                if table[name] and table[name] not in found:
                    found.append(table[name])
            setattr(element, attr, [])  # instance attribute: this element links nothing
    return css, js


def check_no_links_out(page: str) -> None:
    """Refuse a rendered map that still loads a script or style from another host."""
    found = _LINK_OUT.search(page)
    if found:
        raise RuntimeError(f"the map links another host ({found.group(0)!r}); map it in planning.assets")


def static_file(path: str) -> Path:
    """The vendored file on disk (through the static finders, as the app serves it)."""
    found = finders.find(path)
    if not found:
        raise AssetsMissing(f"Front-end file {path} is missing; run `bash scripts/ensure_assets.sh`.")
    return Path(found)


def js_tag(path: str, mode: str) -> str:
    """A <script> that links the file from /static/ ("static") or holds its code ("inline")."""
    if mode == "inline":
        code = static_file(path).read_text(encoding="utf-8").replace("</script", "<\\/script")
        return f"<script>{code}</script>"
    return f'<script src="{html.escape(static(path))}"></script>'


def css_tag(path: str, mode: str) -> str:
    """A stylesheet link ("static"), or a <style> with its images as data URIs ("inline")."""
    if mode == "inline":
        file = static_file(path)
        text = file.read_text(encoding="utf-8")

        def data_uri(match: re.Match) -> str:
            image = file.parent / match.group(1)
            if not image.is_file():
                return match.group(0)
            return f"url(data:image/png;base64,{base64.b64encode(image.read_bytes()).decode()})"

        text = re.sub(r"url\((images/[\w.-]+\.png)\)", data_uri, text)
        return f"<style>{text}</style>"
    return f'<link rel="stylesheet" href="{html.escape(static(path))}"/>'

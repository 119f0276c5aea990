"""Decoders: what each phone app sends -> fixes for the one pipeline (ingest/).

- native      POST /api/tracking/pings/  one ping or {"pings": [...]} (any order, up to TRACKING_MAX_BATCH)
- osmand      /tracking/osmand/          query string or form (Traccar Client <= 8, OsmAnd's online
                                         tracking) or Traccar Client 9's JSON body
- owntracks   POST /tracking/owntracks/  HTTP mode JSON, `_type` location or transition

A decoder never raises for one bad ping inside a batch: it returns a `Problem(index, reason)`
in its place so the good ones are still stored. It raises `MalformedPing` only when the whole
request is unusable. fields.py reads the fields all of them share; columns.py reads the native
batch a field at a time.
"""

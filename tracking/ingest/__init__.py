"""The ping path: decoded fixes of one device -> filters -> enrich -> store -> events -> presence.

pipeline.py lists the stages in order and runs them; each stage is a function of its own module
that takes the `Upload` (upload.py), passes its fixes on or drops some with a reason.
"""

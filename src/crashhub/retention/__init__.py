"""Retention: which dumps the hub keeps, so the blob store never fills (docs/hub.md, Retention).

``policy`` decides (a pure function of the dumps held, the holds and the settings); ``apply``
reads the store, carries the decisions out and removes blobs no record points at any more.
"""

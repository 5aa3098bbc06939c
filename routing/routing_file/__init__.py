"""The user's routing file (Markdown): parsing it into a `RoutingTable`, and editing it.

`parse` loads and validates the file; `edit` changes single cells in place.
"""

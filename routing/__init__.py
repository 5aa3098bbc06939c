"""Routing: the routing file, model catalog, override detection, classifier and router."""

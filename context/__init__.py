"""The default routing file shipped with cortexd (package data)."""

"""cortexd."""

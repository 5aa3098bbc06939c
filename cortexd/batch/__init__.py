"""Batches: many requests from one file, run by the daemon (``cortex batch run``)."""

from __future__ import annotations

from cortexd.batch.estimate import BATCH_CLIENT, Estimate
from cortexd.batch.service import Batches, BatchInputError, Options

__all__ = ["BATCH_CLIENT", "BatchInputError", "Batches", "Estimate", "Options"]

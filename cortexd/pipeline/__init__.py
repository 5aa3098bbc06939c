"""The one request pipeline every front-end shares.

``parse`` (each front-end's own module) → `plan` (router, agent family, budgets, cold local
models, cross-validation: decided here, each with its reason) → `run` (dispatch, and the
call's record) → ``encode`` (each front-end's own module). See docs/architecture.md.
"""

"""The hedge thresholds start from the ledger: a restarted daemon knows how soon each model
usually answers each task, instead of waiting 8 s until it has seen 5 calls again."""

from __future__ import annotations

import time
from dataclasses import replace

from support.app import start_app
from support.daemon import process_env, remove_home, short_home

from cortexd.context.environment import Environment
from cortexd.context.paths import Paths
from cortexd.daemon.run import LEDGER_NAME
from cortexd.ledger import CallRecord, seeds, store
from cortexd.routing.dispatch import Attempt
from cortexd.routing.providers import Usage


def _answered(cid: str, model: str, ttft: float, at: float, **kw: object) -> CallRecord:
    attempt = Attempt(
        request_id=cid, number=1, task="Code review", provider="anthropic", model=model,
        model_id=model, outcome="ok", fallback=False, usage=Usage(10, 5), first_token_s=ttft,
        total_s=ttft + 0.5,
    )  # fmt: skip
    call = CallRecord(
        id=cid, started_at=at, task="Code review", decided_by="classified", outcome="ok",
        attempts=(attempt,), usage=Usage(10, 5),
    )  # fmt: skip
    return replace(call, **kw)  # type: ignore[arg-type]


def _calls(now: float) -> list[CallRecord]:
    calls = [_answered(f"s{i:02d}", "sonnet", 0.3 + i / 100, now - 600 + i) for i in range(20)]
    calls.append(_answered("old", "sonnet", 30.0, now - 40 * 86400))  # past the 30 days
    calls.append(_answered("emb", "sonnet", 30.0, now - 5, kind="embeddings"))
    return calls


def test_the_ledger_gives_each_models_recent_times_to_first_token() -> None:
    home = short_home()
    try:
        db = store.connect(home / "t.sqlite3")
        db.execute("BEGIN")
        store.CallWriter(store.secret(db))(db, _calls(time.time()))
        db.execute("COMMIT")
        found = seeds.recent_ttfts(db, since=time.time() - 30 * 86400)
        db.close()
        assert len(found) == 20 and {(m, t) for m, t, _ in found} == {("sonnet", "Code review")}
        assert max(s for _, _, s in found) < 1.0  # the old and the embeddings calls left out
    finally:
        remove_home(home)


def test_a_daemon_started_on_a_ledger_hedges_at_its_models_usual_time() -> None:
    home = short_home()
    env = process_env({}) | {"CORTEX_HOME": str(home)}
    db = store.connect(Paths.resolve(Environment.read(env)).state_dir / LEDGER_NAME)
    db.execute("BEGIN")
    store.CallWriter(store.secret(db))(db, _calls(time.time()))
    db.execute("COMMIT")
    db.close()
    app = start_app(home)
    try:
        assert app.services.ttfts.threshold("sonnet", "Code review") == 2.0  # the floor
        assert app.services.ttfts.threshold("opus", "Code review") == 8.0  # no data: default
    finally:
        app.stop()
        remove_home(home)

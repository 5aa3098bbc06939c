"""The ledger's schema, built by named migrations applied in order and recorded in a table.

A migration is never edited once released: a change is a new one at the end. A database
that records a migration this cortexd does not know was written by a newer version, and is
refused rather than guessed at.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable

from cortexd.errors import CortexError

Migration = Callable[[sqlite3.Connection], None]


class SchemaError(CortexError):
    """The database was written by a newer cortexd, or its schema cannot be upgraded."""


def _run(db: sqlite3.Connection, script: str) -> None:
    # Not executescript(): it commits first, which would split a migration from its record.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def m001_calls_and_attempts(db: sqlite3.Connection) -> None:
    _run(
        db,
        """
        CREATE TABLE calls (
            id TEXT PRIMARY KEY,
            started_at REAL NOT NULL,
            kind TEXT NOT NULL,
            client TEXT,
            project TEXT,
            task TEXT NOT NULL,
            decided_by TEXT NOT NULL,
            override TEXT,
            routing_generation INTEGER,
            chain TEXT NOT NULL,
            reasons TEXT NOT NULL,
            model TEXT,
            provider TEXT,
            fallback INTEGER NOT NULL,
            local_only INTEGER NOT NULL,
            stream INTEGER NOT NULL,
            outcome TEXT NOT NULL,
            completed INTEGER NOT NULL,
            finish_reason TEXT,
            error_class TEXT,
            error TEXT,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            cache_read_tokens INTEGER NOT NULL,
            cache_write_tokens INTEGER NOT NULL,
            reasoning_tokens INTEGER NOT NULL,
            first_token_s REAL,
            total_s REAL NOT NULL,
            cost_pico_usd INTEGER,
            price_unknown INTEGER NOT NULL
        );
        CREATE INDEX calls_by_time ON calls (started_at);
        CREATE TABLE attempts (
            call_id TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            number INTEGER NOT NULL,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            model_id TEXT NOT NULL,
            outcome TEXT NOT NULL,
            fallback INTEGER NOT NULL,
            retry INTEGER NOT NULL,
            second_opinion INTEGER NOT NULL,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            cache_read_tokens INTEGER NOT NULL,
            cache_write_tokens INTEGER NOT NULL,
            reasoning_tokens INTEGER NOT NULL,
            started_s REAL NOT NULL,
            first_token_s REAL,
            total_s REAL NOT NULL,
            error_class TEXT,
            error TEXT,
            skip_reason TEXT,
            cost_pico_usd INTEGER,
            price_unknown INTEGER NOT NULL,
            PRIMARY KEY (call_id, seq)
        );
        CREATE INDEX attempts_by_model ON attempts (model);
        """,
    )


def m002_feedback(db: sqlite3.Connection) -> None:
    _run(
        db,
        """
        CREATE TABLE feedback (
            id INTEGER PRIMARY KEY,
            call_id TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
            at REAL NOT NULL,
            rating TEXT NOT NULL CHECK (rating IN ('good', 'bad')),
            note TEXT
        );
        CREATE INDEX feedback_by_call ON feedback (call_id);
        """,
    )


def m003_structured_output_and_second_opinions(db: sqlite3.Connection) -> None:
    _run(
        db,
        """
        ALTER TABLE calls ADD COLUMN json_requested INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE calls ADD COLUMN json_valid INTEGER;
        ALTER TABLE calls ADD COLUMN second_opinion TEXT;
        ALTER TABLE calls ADD COLUMN verdict_agree INTEGER;
        """,
    )


def m004_implicit_signals(db: sqlite3.Connection) -> None:
    # The prompt key is a keyed hash: equal prompts match, and a guessed prompt cannot be
    # confirmed against another install's database.
    _run(
        db,
        """
        ALTER TABLE calls ADD COLUMN prompt_key TEXT;
        CREATE TABLE signals (
            call_id TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
            signal TEXT NOT NULL,
            at REAL NOT NULL,
            detail TEXT,
            PRIMARY KEY (call_id, signal)
        );
        CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
        """,
    )
    db.execute("INSERT INTO meta VALUES ('prompt_key_secret', ?)", (os.urandom(16),))


def m005_stored_prompts(db: sqlite3.Connection) -> None:
    _run(
        db,
        """
        CREATE TABLE contents (
            call_id TEXT PRIMARY KEY REFERENCES calls (id) ON DELETE CASCADE,
            stored_at REAL NOT NULL,
            prompt TEXT,
            answer TEXT
        );
        CREATE INDEX contents_by_time ON contents (stored_at);
        """,
    )


def m006_alerts_jobs_and_rejections(db: sqlite3.Connection) -> None:
    # An alert's key holds the limit too: a limit raised mid-month is a new budget whose
    # thresholds may alert again. `delivered_at` stays NULL until the notifiers ran, so an
    # alert claimed just before a crash is delivered at the next start.
    _run(
        db,
        """
        CREATE TABLE alerts (
            month TEXT NOT NULL,
            scope TEXT NOT NULL,
            threshold INTEGER NOT NULL,
            limit_pico_usd INTEGER NOT NULL,
            spent_pico_usd INTEGER NOT NULL,
            claimed_at REAL NOT NULL,
            delivered_at REAL,
            PRIMARY KEY (month, scope, threshold, limit_pico_usd)
        );
        CREATE TABLE job_runs (
            job TEXT PRIMARY KEY,
            last_run REAL NOT NULL
        );
        CREATE TABLE rejected_proposals (
            key TEXT PRIMARY KEY,
            rejected_at REAL NOT NULL,
            calls INTEGER NOT NULL
        );
        """,
    )


def m007_sessions_and_hour_cache_writes(db: sqlite3.Connection) -> None:
    # A coding agent's session and turn (Claude Code's, Codex's) group its calls, so that
    # one session's cost can be asked. Writes to the 1-hour cache cost more than 5-minute
    # ones and are kept apart (they stay counted in cache_write_tokens too). The index
    # serves start-up's read of each client's latest answers.
    _run(
        db,
        """
        ALTER TABLE calls ADD COLUMN session TEXT;
        ALTER TABLE calls ADD COLUMN turn TEXT;
        ALTER TABLE calls ADD COLUMN cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE attempts ADD COLUMN cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX calls_by_client ON calls (client, started_at);
        """,
    )


def m008_estimated_usage_and_roles(db: sqlite3.Connection) -> None:
    # A stream cut short is recorded with the tokens it streamed, estimated (the provider's
    # count never came) and priced: flagged, so that no one reads an estimate as a bill. An
    # attempt's role tells a second opinion from its judge; before this, both were only
    # `second_opinion` (NULL: not known which).
    _run(
        db,
        """
        ALTER TABLE calls ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE attempts ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE attempts ADD COLUMN role TEXT;
        UPDATE attempts SET role = 'answer' WHERE second_opinion = 0
        """,
    )


def m009_agent_sessions_across_providers(db: sqlite3.Connection) -> None:
    # An agent's calls can be answered by another provider's model, translated (issue 21):
    # what translation left out is kept with the call, never only in its reasons. A session
    # is pinned to the provider that answered its last call; a call that moved it says from
    # where, why, and what the move cost (JSON). The agent's own model tells a session's
    # main conversation from the small model's side calls; the index serves start-up's
    # read of the sessions' pins.
    _run(
        db,
        """
        ALTER TABLE calls ADD COLUMN agent_model TEXT;
        ALTER TABLE calls ADD COLUMN losses TEXT;
        ALTER TABLE calls ADD COLUMN moved TEXT;
        CREATE INDEX calls_by_session ON calls (session, started_at) WHERE session IS NOT NULL
        """,
    )


def m010_batch_journal(db: sqlite3.Connection) -> None:
    # A batch run by the daemon (cortexd/batch): its lines as parsed, each line's state and
    # answer, and how much of the output file is written, so that a killed daemon resumes
    # where it stopped with no line answered twice and none written twice. `sends` counts
    # a line's sends: more than one means it was in flight at a kill and was sent again.
    _run(
        db,
        """
        CREATE TABLE batches (
            id TEXT PRIMARY KEY,
            created_at REAL NOT NULL,
            input TEXT NOT NULL,
            output TEXT NOT NULL,
            state TEXT NOT NULL,
            total INTEGER NOT NULL,
            options TEXT NOT NULL,
            out_lines INTEGER NOT NULL DEFAULT 0,
            out_bytes INTEGER NOT NULL DEFAULT 0,
            finished_at REAL,
            note TEXT
        );
        CREATE TABLE batch_lines (
            batch_id TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            line_no INTEGER NOT NULL,
            custom_id TEXT,
            url TEXT,
            body TEXT,
            openai_form INTEGER NOT NULL,
            state TEXT NOT NULL,
            sends INTEGER NOT NULL DEFAULT 0,
            status INTEGER,
            answer TEXT,
            call_id TEXT,
            model TEXT,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cost_pico_usd INTEGER,
            PRIMARY KEY (batch_id, seq)
        );
        CREATE INDEX batch_lines_by_state ON batch_lines (batch_id, state);
        """,
    )


def m011_provider_batches(db: sqlite3.Connection) -> None:
    # Lines sent through a provider's Batch API (issue 23): each submission is journalled
    # before the provider is asked (`submitting`, with the key the provider's batch will
    # carry) and after (`submitted`, with its id), so that a crash between the two finds the
    # batch again instead of submitting it twice. A line in a submission is `submitted`
    # and names it. A call answered through a batch says which (`calls.batch`): it was billed
    # at the batch price, and recorded when its result arrived. `batch_lines_counted` covers
    # a batch's summary, which its progress asks for often: read from the index alone, it
    # never steps over the answers kept in the rows.
    _run(
        db,
        """
        CREATE TABLE provider_batches (
            key TEXT PRIMARY KEY,
            batch_id TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
            provider TEXT NOT NULL,
            url TEXT NOT NULL,
            state TEXT NOT NULL,
            remote_id TEXT,
            requests INTEGER NOT NULL,
            created_at REAL NOT NULL,
            submitted_at REAL,
            ended_at REAL,
            status TEXT,
            note TEXT
        );
        CREATE INDEX provider_batches_by_batch ON provider_batches (batch_id, state);
        CREATE INDEX batch_lines_counted ON batch_lines (
            batch_id, state, status, sends, input_tokens, output_tokens, cost_pico_usd
        );
        ALTER TABLE batch_lines ADD COLUMN submission TEXT;
        ALTER TABLE calls ADD COLUMN batch TEXT;
        """,
    )


#: Every migration, oldest first. Append only.
MIGRATIONS: tuple[tuple[str, Migration], ...] = (
    ("m001_calls_and_attempts", m001_calls_and_attempts),
    ("m002_feedback", m002_feedback),
    ("m003_structured_output_and_second_opinions", m003_structured_output_and_second_opinions),
    ("m004_implicit_signals", m004_implicit_signals),
    ("m005_stored_prompts", m005_stored_prompts),
    ("m006_alerts_jobs_and_rejections", m006_alerts_jobs_and_rejections),
    ("m007_sessions_and_hour_cache_writes", m007_sessions_and_hour_cache_writes),
    ("m008_estimated_usage_and_roles", m008_estimated_usage_and_roles),
    ("m009_agent_sessions_across_providers", m009_agent_sessions_across_providers),
    ("m010_batch_journal", m010_batch_journal),
    ("m011_provider_batches", m011_provider_batches),
)


def applied(db: sqlite3.Connection) -> list[str]:
    """The names of the migrations this database has had, in order."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
    )
    return [name for (name,) in db.execute("SELECT name FROM _migrations ORDER BY rowid")]


def migrate(db: sqlite3.Connection, upto: int | None = None) -> list[str]:
    """Apply the migrations `db` lacks (the first `upto` only, for tests); returns their names.

    Each runs in its own transaction with its record, so a failure leaves the database at
    the last complete version.
    """
    known = [name for name, _ in MIGRATIONS]
    done = applied(db)
    unknown = [name for name in done if name not in known]
    if unknown:
        raise SchemaError(
            f"the ledger was written by a newer cortexd (it has migration {unknown[0]}); "
            "upgrade cortexd or move the database aside"
        )
    ran = []
    for name, step in MIGRATIONS[:upto]:
        if name in done:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            step(db)
            db.execute("INSERT INTO _migrations VALUES (?, ?)", (name, time.time()))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        ran.append(name)
    return ran

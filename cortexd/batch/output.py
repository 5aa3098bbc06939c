"""A batch's output lines: one per input line, in input order, keyed by the line's id.

A line in OpenAI's form gets OpenAI's batch output format (``{"id", "custom_id", "response":
{"status_code", "request_id", "body"}, "error"}``), so tools reading OpenAI's output read
ours; a short-form line gets ``{"id", "answer", "error", ...}``. Both carry cortexd's
``cortex`` block: the line's number, the model that answered, the cost, and whether the
line had to be sent again after a kill.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def output_line(row: Mapping[str, Any]) -> str:
    """The output line (JSON, no newline) of a finished journal row (`journal.ready_to_write`)."""
    answer = json.loads(row["answer"]) if row["answer"] else None
    status = row["status"]
    cortex = {
        "line": row["line_no"],
        "model": row["model"],
        "cost_usd": None if row["cost_pico_usd"] is None else row["cost_pico_usd"] / 1e12,
        "call_id": row["call_id"],
        "resent": row["sends"] > 1,
    }
    if status is None:  # never sent: the line's own fault, or a cancel
        error = {
            "code": (answer or {}).get("code", "invalid_line"),
            "message": (answer or {}).get("error", "not sent"),
        }
        if row["openai_form"]:
            out = {
                "id": f"batch_req_{row['seq']}",
                "custom_id": row["custom_id"],
                "response": None,
                "error": error,
            }
        else:
            out = {"id": row["custom_id"], "answer": None, "error": error}
    elif row["openai_form"]:
        out = {
            "id": f"batch_req_{row['seq']}",
            "custom_id": row["custom_id"],
            "response": {"status_code": status, "request_id": row["call_id"], "body": answer},
            "error": None,
        }
    else:
        out = {"id": row["custom_id"], **_short(status, answer)}
    out["cortex"] = cortex
    return json.dumps(out, ensure_ascii=False)


def _short(status: int, body: Any) -> dict[str, Any]:
    """A Chat Completions answer as the short form has it: the text, or the error."""
    if status >= 400:
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            error = {"message": str(body)[:500]}
        return {
            "answer": None,
            "error": {
                "code": error.get("code") or error.get("type"),
                "message": error.get("message"),
                "status": status,
            },
        }
    try:
        text = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        text = None
    return {"answer": text, "error": None}

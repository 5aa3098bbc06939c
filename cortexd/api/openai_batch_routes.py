"""OpenAI's Files and Batch APIs, served by cortexd: ``/v1/files`` and ``/v1/batches``.

A script written for OpenAI's batches (``client.files.create(purpose="batch")``, then
``client.batches.create(...)``, ``retrieve``, ``files.content``) points its base URL at
cortexd and has each line routed by the routing file. The batch runs as ``cortex batch
run`` does (cortexd/batch); when it ends, its results are split as OpenAI splits them: the
lines answered with success into the output file, the rest into the error file.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cortexd.api.batch_routes import batches_of as _batches
from cortexd.api.body import read_json
from cortexd.api.errors import ApiError
from cortexd.api.validation import _Model, parse_body
from cortexd.context.atomic import write_atomic

if TYPE_CHECKING:
    from cortexd.batch.files import FileStore
    from cortexd.services import Services

#: The largest file taken, as OpenAI's Batch API takes.
MAX_FILE_BYTES = 200 * 1024 * 1024
_STATUS = {
    "running": "in_progress",
    "done": "completed",
    "cancelled": "cancelled",
    "stopped": "failed",
}


class CreateBatch(_Model):
    """The body of ``POST /v1/batches``."""

    input_file_id: str = Field(min_length=1)
    endpoint: str
    completion_window: str = "24h"
    metadata: dict[str, str] | None = None


def _store(request: Request) -> FileStore:
    from cortexd.batch.files import FileStore

    services: Services = request.app.state.services
    return FileStore(services.ledger.path.parent / "files")


async def create_file(request: Request) -> Response:
    """``POST /v1/files`` (multipart: ``file`` and ``purpose``)."""
    size = int(request.headers.get("content-length") or 0)
    if size > MAX_FILE_BYTES:
        raise ApiError(413, f"the file is over {MAX_FILE_BYTES} bytes", param="file")
    try:
        async with request.form(max_files=1, max_fields=4) as form:
            upload, purpose = form.get("file"), form.get("purpose")
            if upload is None or isinstance(upload, str):
                raise ApiError(400, "file: missing", param="file")
            if purpose not in ("batch", "user_data"):
                raise ApiError(
                    400, "purpose: 'batch' is the purpose cortexd keeps files for", param="purpose"
                )
            data = await upload.read()
            name = upload.filename or "upload.jsonl"
    except ApiError:
        raise
    except Exception as error:  # noqa: BLE001 - any malformed multipart body is the client's
        raise ApiError(400, f"a multipart form with a file was expected: {error}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ApiError(413, f"the file is over {MAX_FILE_BYTES} bytes", param="file")
    store = _store(request)
    info = await asyncio.to_thread(store.add, data, name, str(purpose))
    return JSONResponse(info)


def _file_or_404(request: Request) -> tuple[FileStore, dict[str, Any]]:
    store = _store(request)
    file_id = request.path_params["file_id"]
    found = store.get(file_id)
    if found is None:
        raise ApiError(404, f"no file {file_id!r}", code="file_not_found", param="file_id")
    return store, found


async def get_file(request: Request) -> Response:
    """``GET /v1/files/{file_id}``."""
    return JSONResponse(_file_or_404(request)[1])


async def file_content(request: Request) -> Response:
    """``GET /v1/files/{file_id}/content``: the file's bytes."""
    store, found = _file_or_404(request)
    data = store.data_path(found["id"]).read_bytes()
    return Response(data, media_type="application/jsonl")


async def delete_file(request: Request) -> Response:
    """``DELETE /v1/files/{file_id}``."""
    store, found = _file_or_404(request)
    store.delete(found["id"])
    return JSONResponse({"id": found["id"], "object": "file", "deleted": True})


async def list_files(request: Request) -> Response:
    """``GET /v1/files``."""
    return JSONResponse({"object": "list", "data": _store(request).listing(), "has_more": False})


def _record_path(store: FileStore, batch_id: str) -> Path:
    return store.folder / "batches" / f"{batch_id}.json"


async def create_batch(request: Request) -> Response:
    """``POST /v1/batches``: the uploaded file's lines, run as a cortexd batch."""
    services: Services = request.app.state.services
    body = parse_body(await read_json(request, services.limits), CreateBatch)
    from cortexd.batch import BatchInputError, Options
    from cortexd.batch.lines import URLS

    if body.endpoint not in URLS:
        raise ApiError(400, f"endpoint must be one of {', '.join(URLS)}", param="endpoint")
    if body.completion_window != "24h":
        raise ApiError(400, "completion_window: only '24h' is supported", param="completion_window")
    store = _store(request)
    if store.get(body.input_file_id) is None:
        raise ApiError(
            404, f"no file {body.input_file_id!r}", param="input_file_id", code="file_not_found"
        )
    batches = _batches(request)
    source = store.data_path(body.input_file_id)
    try:
        batch_id = await batches.start(
            source, source.with_suffix(".results"), Options(batches.default_concurrency())
        )
    except BatchInputError as error:
        raise ApiError(400, str(error), param="input_file_id") from None
    record = {
        "endpoint": body.endpoint,
        "input_file_id": body.input_file_id,
        "completion_window": body.completion_window,
        "metadata": body.metadata,
    }
    write_atomic(_record_path(store, batch_id), json.dumps(record))
    return JSONResponse(await _batch_object(request, batch_id))


async def _batch_object(request: Request, batch_id: str) -> dict[str, Any]:
    store = _store(request)
    try:
        record = json.loads(_record_path(store, batch_id).read_text())
    except (OSError, ValueError):
        raise ApiError(404, f"no batch {batch_id!r}", code="batch_not_found") from None
    summary = await _batches(request).summary(batch_id)
    if summary is None:
        raise ApiError(404, f"no batch {batch_id!r}", code="batch_not_found")
    status = _STATUS.get(summary["state"], "failed")
    output_id = error_id = None
    if summary["state"] != "running":
        output_id, error_id = _split(store, batch_id, Path(summary["output"]))
    created = int(summary["created_at"])
    ended = int(summary["finished_at"]) if summary["finished_at"] else None
    errors = None
    if summary["state"] == "stopped":
        errors = {
            "object": "list",
            "data": [{"code": "budget_exceeded", "message": summary["note"], "line": None}],
        }
    return {
        "id": batch_id,
        "object": "batch",
        "endpoint": record["endpoint"],
        "errors": errors,
        "input_file_id": record["input_file_id"],
        "completion_window": record["completion_window"],
        "status": status,
        "output_file_id": output_id,
        "error_file_id": error_id,
        "created_at": created,
        "in_progress_at": created,
        "expires_at": created + 86400,
        "finalizing_at": ended,
        "completed_at": ended if status == "completed" else None,
        "failed_at": ended if status == "failed" else None,
        "expired_at": None,
        "cancelling_at": ended if status == "cancelled" else None,
        "cancelled_at": ended if status == "cancelled" else None,
        "request_counts": {
            "total": summary["total"],
            "completed": summary["done"],
            "failed": summary["failed"],
        },
        "metadata": record["metadata"],
    }


def _split(store: FileStore, batch_id: str, results: Path) -> tuple[str | None, str | None]:
    """The output and error files of a finished batch, made on first asking (their ids
    follow from the batch's, so asking again finds them)."""
    stem = "file-" + batch_id.removeprefix("batch_").ljust(24, "0")[:24]
    ids = (f"{stem}-output", f"{stem}-errors")
    if store.get(ids[0]) is None:
        good: list[str] = []
        bad: list[str] = []
        lines = results.read_text(encoding="utf-8").splitlines() if results.exists() else []
        for line in lines:
            item = json.loads(line)
            response = item.get("response")
            ok = item.get("error") is None and response and response.get("status_code", 500) < 400
            (good if ok else bad).append(line + "\n")
        store.add("".join(bad).encode(), f"{batch_id}_errors.jsonl", "batch_output", ids[1])
        store.add("".join(good).encode(), f"{batch_id}_output.jsonl", "batch_output", ids[0])
    errors = store.get(ids[1])
    return ids[0], ids[1] if errors and errors["bytes"] else None


async def get_batch(request: Request) -> Response:
    """``GET /v1/batches/{batch_id}``."""
    return JSONResponse(await _batch_object(request, request.path_params["batch_id"]))


async def cancel_batch(request: Request) -> Response:
    """``POST /v1/batches/{batch_id}/cancel``."""
    batch_id = request.path_params["batch_id"]
    await _batch_object(request, batch_id)  # 404 for a batch not made here
    await _batches(request).cancel(batch_id)
    return JSONResponse(await _batch_object(request, batch_id))


async def list_batches(request: Request) -> Response:
    """``GET /v1/batches``: the batches made through this API, newest first."""
    store = _store(request)
    folder = store.folder / "batches"
    ids = [p.stem for p in folder.glob("batch_*.json")] if folder.is_dir() else []
    found = [await _batch_object(request, batch_id) for batch_id in ids]
    found.sort(key=lambda b: b["created_at"], reverse=True)
    limit = int(request.query_params.get("limit", "20"))
    after = request.query_params.get("after")
    if after:
        at = next((i for i, b in enumerate(found) if b["id"] == after), None)
        found = found[at + 1 :] if at is not None else []
    page = found[: max(1, min(limit, 100))]
    return JSONResponse(
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(found) > len(page),
        }
    )

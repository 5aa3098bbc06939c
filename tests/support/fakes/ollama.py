"""A fake Ollama server: /api/chat (NDJSON or JSON), /api/embed, tags, ps, show and version."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from ._provider import Event, JsonPlan, Plan, ProviderFake, StreamPlan, split_text
from .script import Fault, Turn
from .server import Action, RecordedRequest, Reply
from .vectors import embed_text

DEFAULT_MODELS = ("llama3.1:8b", "nomic-embed-text:latest")
DEFAULT_VERSION = "0.12.6"
_MODIFIED_AT = "2025-01-01T00:00:00Z"
_NDJSON = "application/x-ndjson"
# Families whose GGUF architecture name is not just the leading letters of the model name.
_FAMILIES = {"nomic": "nomic-bert", "mxbai": "bert", "all": "bert", "snowflake": "bert"}
# Stand-in timings, in nanoseconds as Ollama reports them.
_LOAD_NS = 2_000_000
_PROMPT_NS_PER_TOKEN = 1_000_000
_EVAL_NS_PER_TOKEN = 10_000_000


def _full_name(name: str) -> str:
    """Ollama's canonical name: a bare name means its ``latest`` tag."""
    return name if ":" in name else f"{name}:latest"


@dataclass(frozen=True)
class OllamaModel:
    """A pulled model as the fake describes it; unset fields are derived from the name."""

    name: str
    family: str | None = None
    parameter_size: str | None = None
    quantization_level: str = "Q4_K_M"
    context_length: int = 131072  # the model's trained limit, in /api/show's model_info
    loaded_context_length: int = 4096  # the context Ollama allocated, in /api/ps
    embedding_length: int = 4096
    size: int | None = None
    capabilities: tuple[str, ...] | None = None

    @property
    def full_name(self) -> str:
        """The name with its tag, e.g. ``llama3.1:latest``."""
        return _full_name(self.name)

    @property
    def is_embedding(self) -> bool:
        """Whether the name marks an embedding model (e.g. ``nomic-embed-text``)."""
        return "embed" in self.name or "minilm" in self.name

    @property
    def arch(self) -> str:
        """The family, which is also the GGUF architecture prefix in ``model_info``."""
        if self.family is not None:
            return self.family
        match = re.match(r"[a-z]+", self.name.lower())
        lead = match.group(0) if match else "llama"
        return _FAMILIES.get(lead, lead)

    @property
    def params(self) -> str:
        """The parameter size label, e.g. ``8.0B``, from the tag when it names one."""
        if self.parameter_size is not None:
            return self.parameter_size
        match = re.search(r":(\d+(?:\.\d+)?)([bm])\b", self.full_name.lower())
        if match:
            return f"{float(match.group(1)):.1f}{match.group(2).upper()}"
        return "137M" if self.is_embedding else "8.0B"

    @property
    def bytes(self) -> int:
        """The model's size on disk (and in memory when loaded)."""
        if self.size is not None:
            return self.size
        return 274_302_450 if self.is_embedding else 4_920_753_328

    @property
    def digest(self) -> str:
        """A stable sha256 digest for the model."""
        return hashlib.sha256(self.full_name.encode()).hexdigest()

    @property
    def caps(self) -> list[str]:
        """Its capabilities as /api/show lists them."""
        if self.capabilities is not None:
            return list(self.capabilities)
        return ["embedding"] if self.is_embedding else ["completion", "tools"]

    def details(self) -> dict[str, Any]:
        """The ``details`` object of tags, ps and show."""
        return {
            "parent_model": "",
            "format": "gguf",
            "family": self.arch,
            "families": [self.arch],
            "parameter_size": self.params,
            "quantization_level": self.quantization_level,
        }


class FakeOllama(ProviderFake):
    """A fake Ollama server; hand ``base_url`` to ``ollama.AsyncClient(host=...)``.

    ``models`` are the pulled models (names or ``OllamaModel``), ``loaded`` the names of those
    ``/api/ps`` reports as loaded. Both are plain attributes a test may change. A chat, embed or
    show for a model that is not pulled gets Ollama's 404.
    """

    def __init__(
        self,
        *,
        models: Sequence[str | OllamaModel] = DEFAULT_MODELS,
        loaded: Sequence[str] = (),
        version: str = DEFAULT_VERSION,
        vectors: Callable[[str], list[float]] | None = None,
    ) -> None:
        super().__init__()
        # What /api/embed answers per text: by default hashed noise of the turn's dimensions;
        # a test of similarity passes vectors that mean something (support.stand_in_embedder).
        self.vectors = vectors
        self.models = [m if isinstance(m, OllamaModel) else OllamaModel(m) for m in models]
        self.loaded = list(loaded)
        self.version = version
        self.load_ns = _LOAD_NS  # what a load (a chat without messages) reports it took
        for name in self.loaded:
            if self.find(name) is None:
                raise ValueError(f"loaded model {name!r} is not among the pulled models")
        self.route("POST", "/api/chat", self._chat)
        self.route("POST", "/api/embed", self._embed)
        self.route("GET", "/api/tags", self._tags)
        self.route("GET", "/api/ps", self._ps)
        self.route("POST", "/api/show", self._show)
        self.route("GET", "/api/version", self._version)
        self.route("GET", "/", self._root)
        self.route("HEAD", "/", self._root)

    def find(self, name: str) -> OllamaModel | None:
        """The pulled model ``name`` refers to, if any."""
        wanted = _full_name(name)
        return next((m for m in self.models if m.full_name == wanted), None)

    # -- ProviderFake hooks ----------------------------------------------------------------

    def route_fallback(self, request: RecordedRequest) -> Action:
        # Ollama's router answers unknown paths with Go's plain-text 404.
        return Reply(status=404, headers={"content-type": "text/plain"}, body=b"404 page not found")

    def error_payload(
        self,
        status: int,
        message: str,
        error_type: str | None,
        error_code: str | None,
        request_id: str | None,
    ) -> object:
        return {"error": message}

    # -- routes ----------------------------------------------------------------------------

    def _missing(self, request: RecordedRequest) -> Action | None:
        body = _body(request)
        name = str(body.get("model") or body.get("name") or "")
        if self.find(name) is None:
            return self.error_reply(404, f'model "{name}" not found, try pulling it first')
        return None

    def _chat(self, request: RecordedRequest) -> Action:
        missing = self._missing(request)
        if missing is not None:
            return missing
        body = _body(request)
        if body.get("messages") == []:
            # Ollama's documented way to load a model: a chat without messages, answered with
            # done_reason "load" once it is in memory (nothing from the script is used).
            model = self.find(str(body.get("model")))
            assert model is not None
            if model.full_name not in self.loaded:
                self.loaded.append(model.full_name)
            load = {"load_duration": self.load_ns, "total_duration": self.load_ns}
            message = {"role": "assistant", "content": ""}
            reply = {"model": model.full_name, "created_at": _now(), "message": message}
            return self.json_reply({**reply, "done_reason": "load", "done": True, **load})
        return self.scripted(request, _render_chat)

    def _embed(self, request: RecordedRequest) -> Action:
        render = partial(_render_embed, vectors=self.vectors)
        return self._missing(request) or self.scripted(request, render)

    def _tags(self, request: RecordedRequest) -> Action:
        return self.json_reply({"models": [_tag(m) for m in self.models]})

    def _ps(self, request: RecordedRequest) -> Action:
        expires = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
        running = []
        for name in self.loaded:
            model = self.find(name)
            if model is None:
                continue  # a test removed it from `models` after loading it
            running.append(
                {
                    "name": model.full_name,
                    "model": model.full_name,
                    "size": model.bytes,
                    "digest": model.digest,
                    "details": model.details(),
                    "expires_at": expires,
                    "size_vram": model.bytes,
                    "context_length": model.loaded_context_length,
                }
            )
        return self.json_reply({"models": running})

    def _show(self, request: RecordedRequest) -> Action:
        missing = self._missing(request)
        if missing is not None:
            return missing
        body = _body(request)
        model = self.find(str(body.get("model") or body.get("name")))
        assert model is not None
        arch = model.arch
        info: dict[str, Any] = {
            "general.architecture": arch,
            "general.basename": model.full_name.split(":")[0],
            "general.file_type": 15,
            "general.parameter_count": _parameter_count(model.params),
            "general.quantization_version": 2,
            f"{arch}.context_length": model.context_length,
            f"{arch}.embedding_length": model.embedding_length,
        }
        return self.json_reply(
            {
                "license": "Fake license for tests.",
                "modelfile": f'# Modelfile generated by "ollama show"\nFROM {model.full_name}\n',
                "parameters": 'stop                           "<|eot_id|>"',
                "template": "{{ .Prompt }}",
                "details": model.details(),
                "model_info": info,
                "capabilities": model.caps,
                "modified_at": _MODIFIED_AT,
            }
        )

    def _version(self, request: RecordedRequest) -> Action:
        return self.json_reply({"version": self.version})

    def _root(self, request: RecordedRequest) -> Action:
        body = b"" if request.method == "HEAD" else b"Ollama is running"
        return Reply(headers={"content-type": "text/plain; charset=utf-8"}, body=body)


def _body(request: RecordedRequest) -> dict[str, Any]:
    return request.json if isinstance(request.json, dict) else {}


def _tag(model: OllamaModel) -> dict[str, Any]:
    return {
        "name": model.full_name,
        "model": model.full_name,
        "modified_at": _MODIFIED_AT,
        "size": model.bytes,
        "digest": model.digest,
        "details": model.details(),
    }


def _parameter_count(label: str) -> int:
    scale = {"B": 1_000_000_000, "M": 1_000_000}.get(label[-1:], 1)
    try:
        return int(float(label[:-1]) * scale)
    except ValueError:
        return 0


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _timings(turn: Turn) -> dict[str, int]:
    prompt_ns = turn.input_tokens * _PROMPT_NS_PER_TOKEN
    eval_ns = turn.output_tokens * _EVAL_NS_PER_TOKEN
    return {
        "total_duration": _LOAD_NS + prompt_ns + eval_ns,
        "load_duration": _LOAD_NS,
        "prompt_eval_count": turn.input_tokens,
        "prompt_eval_duration": prompt_ns,
        "eval_count": turn.output_tokens,
        "eval_duration": eval_ns,
    }


def _line(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode() + b"\n"


def _render_chat(request: RecordedRequest, turn: Turn) -> Plan:
    body = _body(request)
    model = body.get("model")
    # `think` may be a bool or a level ("low", "high"); thinking is only split out when asked.
    thinking = turn.thinking if body.get("think") else None
    tool_calls = [{"function": {"name": c.name, "arguments": c.arguments}} for c in turn.tool_calls]
    final = {
        "done": True,
        "done_reason": "length" if turn.finish_reason == "length" else "stop",
        **_timings(turn),
    }
    # Ollama streams unless the request says "stream": false.
    if body.get("stream", True) is False:
        message: dict[str, Any] = {"role": "assistant", "content": turn.text}
        if thinking is not None:
            message["thinking"] = thinking
        if tool_calls:
            message["tool_calls"] = tool_calls
        return JsonPlan({"model": model, "created_at": _now(), "message": message, **final})

    def line(message: dict[str, Any], **extra: Any) -> bytes:
        base = {"model": model, "created_at": _now(), "message": {"role": "assistant", **message}}
        return _line(base | ({"done": False} if not extra else extra))

    events = [Event(line({"content": "", "thinking": p}), True) for p in split_text(thinking or "")]
    events += [Event(line({"content": p}), True) for p in split_text(turn.text)]
    if tool_calls:
        events.append(Event(line({"content": "", "tool_calls": tool_calls}), True))
    events.append(Event(line({"content": ""}, **final)))
    return StreamPlan(events=events, content_type=_NDJSON, error=_stream_error)


def _stream_error(_sent: int, fault: Fault) -> list[bytes]:
    return [_line({"error": fault.message or "an error was encountered while running the model"})]


def _render_embed(
    request: RecordedRequest, turn: Turn, vectors: Callable[[str], list[float]] | None = None
) -> Plan:
    body = _body(request)
    raw = body.get("input", "")
    texts = [raw] if isinstance(raw, str) else [str(t) for t in raw]
    dims = int(body.get("dimensions") or turn.embedding_dims)
    return JsonPlan(
        {
            "model": body.get("model"),
            "embeddings": [vectors(t) if vectors else embed_text(t, dims) for t in texts],
            "total_duration": _LOAD_NS + turn.input_tokens * _PROMPT_NS_PER_TOKEN,
            "load_duration": _LOAD_NS,
            "prompt_eval_count": turn.input_tokens,
        }
    )

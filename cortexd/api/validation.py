"""Request bodies validated against pydantic models, refusing the fields no client may set.

The endpoints whose bodies have a pydantic model parse them here, and the front-ends that
check theirs by hand (Messages, Responses) share `FORBIDDEN`: a body that would pick an
upstream or credentials is refused on every route, and a validation error reads as one 400
naming the field at fault.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from cortexd.api.errors import ApiError

#: Body fields no client may set: they would pick an upstream or credentials.
FORBIDDEN = frozenset(
    {"api_key", "api_base", "base_url", "api_version", "organization", "headers", "extra_headers"}
)


class _Model(BaseModel):
    # Fields a model does not name are ignored: clients send many that cortexd does not read.
    model_config = ConfigDict(extra="ignore")


#: The body model a route parses into; `parse_body` answers that very type.
M = TypeVar("M", bound=_Model)


def _describe(error: ValidationError) -> tuple[str, str | None]:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"], where or None


def parse_body(data: object, model: type[M]) -> M:
    """Validate a decoded JSON body against `model`; refuse credential and upstream fields."""
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    bad = sorted(FORBIDDEN & data.keys())
    if bad:
        raise ApiError(
            400,
            f"'{bad[0]}' cannot be set by a request: cortexd chooses upstreams and holds the keys",
            param=bad[0],
        )
    try:
        return model.model_validate(data)
    except ValidationError as error:
        message, param = _describe(error)
        raise ApiError(400, message, param=param) from None

"""A streamed answer's bytes, with the call's record kept right whatever happens.

Every streaming front-end writes its own wire format but shares this envelope: the call is
committed before the last byte (an answered call is on record), a break after content is
committed as partial and ends the stream with the front-end's error event, a client that
leaves is recorded as cancelled once the dispatch is closed, and a bug is recorded as one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from cortexd.api.recording import CallRecording
from cortexd.routing.dispatch import Dispatch, PartialAnswerError
from cortexd.routing.providers import ChatResponse, StreamEnd, StreamEvent


async def recorded_stream(
    first: StreamEvent,
    events: AsyncIterator[StreamEvent],
    recording: CallRecording,
    state: Dispatch,
    *,
    write: Callable[[StreamEvent], bytes],
    end: Callable[[ChatResponse], bytes],
    broke: Callable[[PartialAnswerError], bytes],
) -> AsyncIterator[bytes]:
    """The stream's bytes: `write(event)` for each event before the end, `end(response)`
    once the call is committed, `broke(error)` when it broke after content."""
    event = first
    bug: BaseException | None = None
    try:
        while True:
            if isinstance(event, StreamEnd):
                await recording.commit("ok", response=event.response, dispatch=state)
                yield end(event.response)
                return
            out = write(event)
            if out:
                yield out
            event = await anext(events)
    except PartialAnswerError as error:
        await recording.commit("partial", dispatch=state, error=error.cause)
        yield broke(error)
    except (GeneratorExit, asyncio.CancelledError):
        raise  # the client left: recorded below as cancelled
    except BaseException as error:
        bug = error
        raise
    finally:
        await events.aclose()  # type: ignore[attr-defined]
        recording.abandon(bug)  # after the close, which records the cancelled attempt

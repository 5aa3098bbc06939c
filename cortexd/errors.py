"""The root of cortexd's errors, and the whole tree drawn once.

Every exception class cortexd defines is a `CortexError`, so a caller catches by type and
never parses a message; each boundary translates what it catches (an SDK's exceptions in
the adapter's ``map_error``, a `CortexError` into an HTTP error in each front-end's
``errors`` module, into a line on stderr in the CLI). `tests/test_error_tree.py` holds the
drawing to the classes::

    CortexError
     ├── RoutingFileError           the routing file has problems (all of them, each with a line)
     ├── CellError                  one cell of it cannot be read (also a ValueError)
     ├── HedgingSettingError        its **Hedging** line or cell is wrong (also a ValueError)
     ├── EditError                  a change to it cannot be made in place
     ├── TaskExamplesError          task-examples.md cannot be read
     ├── UnknownModelError          a request named a model the catalog does not know
     │    └── AmbiguousModelError   … or a model id that several aliases share
     ├── UnknownTaskError           a request named a task type the routing file lacks
     ├── NoRouteError               nothing may serve the request (local-only, no local model)
     ├── BudgetExceededError        a budget at its limit refuses the call
     ├── NotAJsonObject             a model asked for JSON answered something else (ValueError)
     ├── ChainExhaustedError        every model of the chain failed or was skipped
     │    └── CannotEmbedError      … for an embeddings request
     ├── PartialAnswerError         a stream failed after its first content: no fallback
     ├── VerdictError               a second opinion's judge answered no verdict
     ├── UpstreamStreamError        an error inside a provider's 200 stream (decoders only)
     ├── ProviderError              a provider call failed; carries provider, model, status
     │    ├── TransientError        worth one retry of the same model, then the fallback
     │    │    ├── ProviderConnectionError   refused, reset, DNS, a worker process that died
     │    │    ├── ProviderTimeoutError      connect/read timeout, HTTP 408, a hang
     │    │    ├── RateLimitError            429 (`retry_after` when the provider said)
     │    │    ├── OverloadedError           529, 503, an `overloaded_error` in a 200 stream
     │    │    ├── ServerError               other 5xx, 409
     │    │    └── StreamInterruptedError    the stream broke off or cannot be parsed
     │    ├── QuotaExceededError    the account's spend limit or credit is used up
     │    ├── ContextLengthError    the prompt does not fit: only a larger window can help
     │    ├── ModelUnavailableError this model cannot serve now; fall back, do not retry
     │    │    ├── AuthenticationError       401, 403: the key is missing, wrong, not allowed
     │    │    ├── ModelNotFoundError        404: no such model (or not pulled, for Ollama)
     │    │    ├── NotConfiguredError        no key, no base URL, a library that won't import
     │    │    └── ModelLoadError            a local model file that cannot be loaded
     │    ├── UnsupportedRequestError  this model cannot take this request; another may
     │    ├── BatchItemError        a request of a provider's batch came back errored
     │    └── InvalidRequestError   400, 413, 422: the request is wrong; nothing is retried
     ├── ApiError                   an error answer: status, message, code, param, call id
     │    └── Refused               a call the pipeline refused before any model was tried
     ├── BatchInputError            a line of a batch input file is wrong (also a ValueError)
     ├── CaptureError               a dropped note cannot be filed
     │    ├── RefusedError          … and is left where it was
     │    │    └── TooLargeError    … because it is over the size limit
     │    ├── InvalidFilingError    the model's filing answer is unusable
     │    ├── FilingError           the filed note cannot be written
     │    └── UnsafeFolderError     the inbox or captured/ is not the user's own
     ├── LedgerUnavailableError     the ledger cannot be written
     ├── SchemaError                the ledger's schema is newer than this cortexd
     ├── PeriodError                a month or range cannot be read (also a ValueError)
     ├── AmbiguousCallError         a call-id prefix matches several calls (a LookupError)
     ├── ListenerError              the socket cannot be made safely
     │    ├── AlreadyRunningError   another cortexd holds it
     │    └── TcpBindError          the TCP port is taken: the Unix socket serves alone
     ├── TokenFileError             the TCP listener's token file cannot be made or read
     ├── KeyFileError               the key file is unsafe or unreadable
     ├── FileChangedError           a file changed under an edit: nothing is written
     ├── SettingsFileError          an agent's settings file cannot be read or written
     ├── ServiceError               the service cannot be installed or managed
     │    └── ManagerMissingError   no systemctl or launchctl
     ├── DaemonNotRunning           the client finds no daemon on the socket
     └── DaemonError                the daemon answered the client with an error

The CLI and the client library import this module without loading the routing package.
"""

from __future__ import annotations


class CortexError(Exception):
    """Base of every error cortexd raises on purpose; the message is for the user."""

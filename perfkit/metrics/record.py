"""One finished request, as the middleware saw it: the single shape the request path carries.

The middleware builds one `RequestRecord` per request; it is queued by the
registry, aggregated in batches by `Registry.drain`, copied into the slow list
when slow, and handed to every request hook (``hook(record)``), including
`perfkit.testing.InMemorySink`. Nothing unpacks positions: adding a field
means one line here (with a default) plus the code that reads it.

A slotted class rather than a NamedTuple: building it costs the same as a
tuple of keyword arguments, and reading a slot is several times cheaper than a
NamedTuple's property (the drain reads every field of every record).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RequestRecord"]


@dataclass(slots=True)
class RequestRecord:
    """One served request; durations in seconds.

    Attributes:
        method: the HTTP method as received (normalised in the batch, off the request path).
        route: the endpoint name; None means "template `path`" (done in the batch).
        status: the response status (499 when the client left first).
        duration: seconds until the last byte.
        size: response bytes sent.
        ttfb: seconds until the first byte, when known.
        user: the user id from the `identify` hook (pseudonymised in the batch when a
            hash key is set).
        organization: the organization id from the `identify` hook.
        error_type: the exception class name when the app raised.
        path: the raw request path (cut to ``max_path_length``).
        request_id: the request id (``X-Request-ID``).
        timestamp: wall-clock seconds when it finished; the registry stamps it when None.
        request_size: request body bytes (ASGI: counted as received; WSGI: the
            declared Content-Length, 0 for a chunked body without one).
    """

    method: str
    route: str | None
    status: int
    duration: float
    size: int = 0
    ttfb: float | None = None
    user: str | None = None
    organization: str | None = None
    error_type: str | None = None
    path: str | None = None
    request_id: str | None = None
    timestamp: float | None = None
    request_size: int = 0

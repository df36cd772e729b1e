"""Views for every outcome: 200, 404 from a route, 405, 500, streaming, a user."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

from django.db import connection
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.views.decorators.http import require_GET


class _User:
    is_authenticated = True

    def __init__(self, pk: str) -> None:
        self.pk = pk


class HeaderUser:
    """Stands in for AuthenticationMiddleware: ``X-User`` becomes ``request.user``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name = request.headers.get("X-User")
        if name:
            request.user = _User(name)  # type: ignore[assignment]
        return self.get_response(request)


@require_GET
def item(request: HttpRequest, item_id: int) -> JsonResponse:
    if item_id > 10:
        raise Http404("no such item")
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s + 1", [item_id])
        (value,) = cursor.fetchone()
    return JsonResponse({"id": item_id, "next": value})


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("broken view")


def stream(request: HttpRequest, n: int) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        for i in range(n):
            yield b"chunk %d\n" % i

    return StreamingHttpResponse(chunks(), content_type="text/plain")


def download(request: HttpRequest) -> FileResponse:
    return FileResponse(io.BytesIO(b"x" * 5000), filename="report.txt")


def product(request: HttpRequest, slug: str) -> JsonResponse:
    return JsonResponse({"slug": slug})


def whoami(request: HttpRequest) -> JsonResponse:
    user: Any = getattr(request, "user", None)
    return JsonResponse({"user": getattr(user, "pk", None)})

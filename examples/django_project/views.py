"""Views: raw SQL on the default connection (timed by perfkit) and one cached lookup."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.http import HttpRequest, JsonResponse

from perfkit.cache import cached


# no cache=: the default kit's cache (`perfkit.get_kit().cache`), looked up per call
@cached(ttl=30, key_prefix="user")
def load_user(user_id: int) -> dict[str, Any] | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, name FROM users WHERE id = %s", [user_id])
        row = cursor.fetchone()
    return None if row is None else {"id": row[0], "name": row[1]}


def index(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"service": "django example"})


def user_detail(request: HttpRequest, user_id: int) -> JsonResponse:
    user = load_user(user_id)
    if user is None:
        return JsonResponse({"error": "no such user"}, status=404)
    return JsonResponse(user)


def status(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM users")
        (count,) = cursor.fetchone()
    return JsonResponse({"users": count})

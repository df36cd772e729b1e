"""URLs: perfkit names requests by these patterns (e.g. ``/users/<int:user_id>``)."""

from __future__ import annotations

from django.urls import include, path

from . import views

api = [path("status", views.status, name="status")]

urlpatterns = [
    path("", views.index, name="index"),
    path("users/<int:user_id>", views.user_detail, name="user-detail"),
    path("api/", include(api)),
]

from __future__ import annotations

from django.urls import include, path

from . import views

shop = [path("products/<slug:slug>", views.product)]

urlpatterns = [
    path("items/<int:item_id>", views.item),
    path("boom", views.boom),
    path("stream/<int:n>", views.stream),
    path("me", views.whoami),
    path("download", views.download),
    path("shop/", include(shop)),
]

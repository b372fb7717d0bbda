"""Authorization-server routes.

The namespace is DOT's own (``oauth2_provider``) because DOT's views and metadata
reverse their endpoints by these names. Endpoint paths carry no trailing slash and
match with one too, so no POST is ever answered with an ``APPEND_SLASH`` redirect.
"""

from __future__ import annotations

from django.urls import path, re_path

from . import views

app_name = "oauth2_provider"

urlpatterns = [
    path(
        ".well-known/oauth-authorization-server",
        views.ServerMetadataView.as_view(),
        name="oauth-server-metadata",
    ),
    re_path(
        r"^\.well-known/oauth-protected-resource(?:/mcp)?/?$",
        views.ProtectedResourceMetadataView.as_view(),
        name="oauth-resource-metadata",
    ),
    re_path(r"^authorize/?$", views.AuthorizationView.as_view(), name="authorize"),
    re_path(r"^token/?$", views.TokenView.as_view(), name="token"),
    re_path(r"^revoke/?$", views.RevokeTokenView.as_view(), name="revoke-token"),
    re_path(r"^register/?$", views.RegistrationView.as_view(), name="dcr-register"),
    re_path(
        r"^register/(?P<client_id>[^/]+)/?$",
        views.RegistrationManagementView.as_view(),
        name="dcr-register-management",
    ),
]

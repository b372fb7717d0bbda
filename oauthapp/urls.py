"""Authorization-server routes.

The namespace is DOT's own (``oauth2_provider``) because DOT's views and metadata
reverse their endpoints by these names. Endpoint paths carry no trailing slash and
match with one too, so no POST is ever answered with an ``APPEND_SLASH`` redirect.
"""

from __future__ import annotations

from django.urls import path, re_path

from .views import authorize, device, metadata, registration, token

app_name = "oauth2_provider"

urlpatterns = [
    path(
        ".well-known/oauth-authorization-server",
        metadata.ServerMetadataView.as_view(),
        name="oauth-server-metadata",
    ),
    re_path(
        r"^\.well-known/oauth-protected-resource(?:/mcp)?/?$",
        metadata.ProtectedResourceMetadataView.as_view(),
        name="oauth-resource-metadata",
    ),
    re_path(r"^authorize/?$", authorize.AuthorizationView.as_view(), name="authorize"),
    re_path(r"^token/?$", token.TokenView.as_view(), name="token"),
    re_path(r"^revoke/?$", token.RevokeTokenView.as_view(), name="revoke-token"),
    re_path(r"^device-authorization/?$", device.DeviceAuthorizationView.as_view(), name="device-authorization"),
    re_path(r"^device/?$", device.DeviceUserCodeView.as_view(), name="device"),
    path("device/confirm", device.DeviceConfirmView.as_view(), name="device-confirm"),
    re_path(r"^register/?$", registration.RegistrationView.as_view(), name="dcr-register"),
    re_path(
        r"^register/(?P<client_id>[^/]+)/?$",
        registration.RegistrationManagementView.as_view(),
        name="dcr-register-management",
    ),
]

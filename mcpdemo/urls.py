from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from mcpdemo import health
from mcpdemo.views import HomeView, favicon
from oauthapp.views.consents import ConnectedAppsView, DisconnectView

handler400 = "oauthapp.errors.bad_request"
handler500 = "oauthapp.errors.server_error"

urlpatterns = [
    path("", include("oauthapp.urls")),
    path("", HomeView.as_view(), name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=False), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("connected-apps/", ConnectedAppsView.as_view(), name="connected-apps"),
    path("connected-apps/<int:pk>/disconnect", DisconnectView.as_view(), name="disconnect"),
    path("admin/", admin.site.urls),
    path("favicon.ico", favicon),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]

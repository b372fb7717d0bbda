"""Debug off: hashed static files once collected, the plain ones (still styled pages) before."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.templatetags.static import static
from django.test import Client, override_settings

from mcpdemo.checks import check_static_files_collected

PRODUCTION_STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "mcpdemo.staticfiles.StaticFilesStorage"},
}


@pytest.fixture
def not_collected(tmp_path):
    with override_settings(DEBUG=False, STATIC_ROOT=str(tmp_path), STORAGES=PRODUCTION_STORAGES):
        yield tmp_path


def test_before_collectstatic_pages_link_the_plain_stylesheet_and_say_so_in_the_deploy_check(
    not_collected, client: Client
) -> None:
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert 'href="/static/css/site.css"' in response.content.decode()
    assert [message.id for message in check_static_files_collected()] == ["mcpdemo.W001"]


def test_after_collectstatic_pages_link_the_hashed_stylesheet(not_collected) -> None:
    call_command("collectstatic", "--noinput", verbosity=0)

    # A fresh storage reads the new manifest, as a server started after collectstatic does.
    with override_settings(STATIC_ROOT=str(not_collected)):
        url = static("css/site.css")
        messages = check_static_files_collected()

    assert url.startswith("/static/css/site.") and url != "/static/css/site.css"
    assert messages == []

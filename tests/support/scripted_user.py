"""A scripted user at a browser: signs in, reads the consent page, presses Allow or Deny."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

_INPUT = re.compile(r"<input\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r'(\w+)="([^"]*)"')


def hidden_inputs(html: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for tag in _INPUT.findall(html):
        attrs = {key.lower(): unescape(value) for key, value in _ATTR.findall(tag)}
        if attrs.get("type") == "hidden" and "name" in attrs:
            fields[attrs["name"]] = attrs.get("value", "")
    return fields


class ScriptedUser:
    """Follows an authorization URL the way a person would, without a real browser."""

    def __init__(self, username: str, password: str, allow: bool = True) -> None:
        self.username = username
        self.password = password
        self.allow = allow
        self.consent_pages: list[str] = []
        self.redirects: list[str] = []  # where the browser was sent after consent (the client's redirect URI)

    async def authorize(self, authorization_url: str) -> dict[str, str]:
        """Return the query the client's redirect URI receives (code or error, state, iss)."""
        async with httpx.AsyncClient(timeout=10) as browser:
            response = await browser.get(authorization_url)
            if response.status_code == 302 and "/accounts/login/" in response.headers["location"]:
                login_url = urljoin(authorization_url, response.headers["location"])
                page = await browser.get(login_url)
                form = hidden_inputs(page.text) | {"username": self.username, "password": self.password}
                response = await browser.post(login_url, data=form, headers={"Referer": login_url})
                assert response.status_code == 302, response.text
                response = await browser.get(urljoin(authorization_url, response.headers["location"]))
            assert response.status_code == 200, response.text
            self.consent_pages.append(response.text)
            form = hidden_inputs(response.text)
            if self.allow:
                form["allow"] = "Authorize"
            consent_url = str(response.url)
            response = await browser.post(consent_url, data=form, headers={"Referer": consent_url})
            assert response.status_code == 302, response.text
            location = response.headers["location"]
            self.redirects.append(location)
        return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}

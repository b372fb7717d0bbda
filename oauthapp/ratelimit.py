"""Rate limits on the endpoints that create things or check secrets, as sliding windows.

- Registration, token and revocation: per client address.
- Device authorization: per client address, with the token endpoint's limit.
- Wrong user codes on the device page (:func:`take_all`, called by the view): per
  address and per signed-in account (RFC 8628 §5.1); a right code gives its slots back.
- Every password form (:data:`SIGN_IN_PATHS`: the site's and the admin's sign-in) shares
  one limiter, per address and per account, so guessing a staff password at
  ``/admin/login/`` meets the same wall as at ``/accounts/login/``. Only failed
  attempts count: a successful sign-in gives its slot back.

Addresses: IPv4 as is, IPv6 grouped by /64 (one subscriber's whole prefix counts as
one address). Limits come from ``MCPDEMO_RATE_LIMITS`` ("10/m", "5/10m", "30/h").

The window slides: a limit of N per W holds for every interval of length W, so a burst
across a boundary gets no more than N (fixed windows let through about 2N). Counters
are slots of W/:data:`SLOTS` in Django's cache (Redis when configured, shared by every
worker). A request takes its slot first and gives it back when refused, so concurrent
requests cannot overshoot. When the cache is down the limit is not enforced (the
service stays up) and the failure is logged once per kind.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.http import urlencode as django_urlencode

from mcpdemo import metrics
from mcpdemo.logs import OUTAGES

from .conf import conf

logger = logging.getLogger(__name__)

SLOTS = 10
SIGN_IN_PATHS = frozenset({"/accounts/login/", "/admin/login/"})
# (method, path) → rate group of the API endpoints.
_LIMITED: dict[tuple[str, str], str] = {
    ("POST", "/register"): "register",
    ("POST", "/register/"): "register",
    ("POST", "/token"): "token",
    ("POST", "/token/"): "token",
    ("POST", "/revoke"): "token",
    ("POST", "/revoke/"): "token",
    ("POST", "/device-authorization"): "token",
    ("POST", "/device-authorization/"): "token",
}
# django-ratelimit's syntax (oauthapp.E001 checks it): no unit means seconds.
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    limit: int
    window: float  # seconds


def parse_rate(rate: str) -> Rate | None:
    """``"10/m"`` → 10 per 60 s; ``"5/10m"`` → 5 per 600 s; empty or ``"0/…"`` → ``None`` (off)."""
    match = _RATE.match(rate or "")
    if match is None:
        if (rate or "").strip():
            raise ValueError(f"not a rate: {rate!r} (use e.g. 10/m, 5/10m, 30/h)")
        return None
    limit, multiple, unit = int(match.group(1)), int(match.group(2) or 1), (match.group(3) or "s").lower()
    return Rate(limit, multiple * _UNIT_SECONDS[unit]) if limit and multiple else None


def address_key(request: HttpRequest) -> str:
    """The client address a limit counts: IPv4 as is, IPv6 by its /64 prefix.

    REMOTE_ADDR is the peer uvicorn saw, or the client a trusted proxy reported
    (uvicorn --proxy-headers with --forwarded-allow-ips).
    """
    raw = request.META.get("REMOTE_ADDR", "")
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def account_key(username: str) -> str:
    """An account as a limit counts it: case and surrounding space do not make another account."""
    return hashlib.sha256(username.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()


def _report(error: Exception) -> None:
    kind = type(error).__name__
    OUTAGES.log(
        logger,
        logging.WARNING,
        f"ratelimit:{kind}",
        "rate limits not enforced: the cache failed (%s); requests are let through",
        kind,
        service="cache",
    )


class Counter:
    """A sliding-window counter in Django's cache, kept in :data:`SLOTS` slots per window."""

    def __init__(self, scope: str, key: str, rate: Rate) -> None:
        self.rate = rate
        self.slot_seconds = rate.window / SLOTS
        self.prefix = f"ratelimit:{scope}:{key}:"
        self.taken: str | None = None

    def take(self, now: float | None = None) -> float | None:
        """Take a slot; ``None`` if it fits the limit, else the seconds until one frees (nothing taken)."""
        now = time.time() if now is None else now
        current = int(now // self.slot_seconds)
        slots = list(range(current - SLOTS, current + 1))
        keys = [self.prefix + str(slot) for slot in slots]
        try:
            cache.add(keys[-1], 0, timeout=math.ceil(self.rate.window + 2 * self.slot_seconds))
            cache.incr(keys[-1])
            self.taken = keys[-1]
            counts = cache.get_many(keys)
        except Exception as error:  # noqa: BLE001 - any cache failure: let the request through
            _report(error)
            return None
        # Slots a whole window old or more are past; the oldest counted one may be part in
        # the window, and is counted whole (never more than the limit in any window).
        in_window = [(slot, int(counts.get(key, 0))) for slot, key in zip(slots, keys, strict=True)]
        total = sum(count for _, count in in_window)
        if total <= self.rate.limit:
            return None
        self.give_back()
        # The earliest moment enough old slots have left the window for one more request.
        excess = total - self.rate.limit
        for slot, count in in_window:
            excess -= count
            if excess <= 0:
                return max(1.0, (slot + SLOTS + 1) * self.slot_seconds - now)
        return self.rate.window

    def give_back(self) -> None:
        if self.taken is None:
            return
        key, self.taken = self.taken, None
        try:
            cache.decr(key)
        except Exception as error:  # noqa: BLE001 - the slot expires with its window anyway
            _report(error)


def take(scope: str, key: str, rate: Rate | None) -> tuple[Counter | None, float | None]:
    """Take a slot of ``rate`` for ``key``; the counter (to give back) and the wait if refused."""
    if rate is None:
        return None, None
    counter = Counter(scope, key, rate)
    wait = counter.take()
    if wait is not None:
        metrics.record_rate_limit_refusal(scope)
    return counter, wait


def take_all(wanted: list[tuple[str, str]]) -> tuple[list[Counter], float | None]:
    """Take a slot of each ``(group, key)`` (rates from ``MCPDEMO_RATE_LIMITS``), all or none.

    Returns the counters taken (to give back after a success) and, if a limit refused, the
    wait (then nothing stays taken).
    """
    limits = conf.RATE_LIMITS
    taken: list[Counter] = []
    for group, key in wanted:
        counter, wait = take(group, key, parse_rate(limits.get(group, "")))
        if wait is not None:
            for earlier in taken:
                earlier.give_back()
            return [], wait
        if counter is not None:
            taken.append(counter)
    return taken, None


class RateLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path_info in SIGN_IN_PATHS:
            return self._sign_in(request)
        group = _LIMITED.get((request.method or "", request.path_info))
        if group is not None:
            _counter, wait = take(group, address_key(request), parse_rate(conf.RATE_LIMITS.get(group, "")))
            if wait is not None:
                return _too_many_json(wait)
        return self.get_response(request)

    def _sign_in(self, request: HttpRequest) -> HttpResponse:
        wanted = [("login", address_key(request))]
        request.body  # noqa: B018 - cache the body so later middleware and views can still read it
        username = request.POST.get("username", "")
        if username:
            wanted.append(("login_account", account_key(username)))
        taken, wait = take_all(wanted)
        if wait is not None:
            return too_many_page(request, wait)
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if response.status_code in (301, 302, 303) and user is not None and user.is_authenticated:
            for counter in taken:  # signed in: only failed attempts count
                counter.give_back()
        return response


def _retry_after(wait: float) -> str:
    return str(max(1, math.ceil(wait)))


def _too_many_json(wait: float) -> HttpResponse:
    response = JsonResponse(
        {
            "error": "too_many_requests",
            "error_description": f"Too many requests from this address; retry in {_retry_after(wait)} seconds",
        },
        status=429,
    )
    response["Cache-Control"] = "no-store"
    response["Retry-After"] = _retry_after(wait)
    return response


def too_many_page(request: HttpRequest, wait: float, kind: str = "sign-in") -> HttpResponse:
    """The 429 page (``kind``: ``"sign-in"`` or ``"device"`` for user codes), with a way back
    to the same form and the request it was for (``next``)."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    retry_url = request.path
    if next_url and url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        retry_url += "?" + django_urlencode({"next": next_url})
    context = {"retry_after": _retry_after(wait), "retry_url": retry_url, "kind": kind}
    response = HttpResponse(render_to_string("429.html", context, request=request), status=429)
    response["Retry-After"] = _retry_after(wait)
    response["Cache-Control"] = "no-store"
    return response

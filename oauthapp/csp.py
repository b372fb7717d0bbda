"""django-csp's middleware, extended at its documented seam (``get_policy_parts``).

Browsers apply the consent page's ``form-action`` to the redirect that follows the form,
so a client with a private-use redirect scheme (Cursor's ``cursor:``) needs that scheme
allowed on its own consent page only. The view names the scheme on the request.
"""

from __future__ import annotations

from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpRequest, HttpResponseBase

FORM_ACTION_ATTRIBUTE = "mcpdemo_form_action_scheme"


def allow_form_action_scheme(request: HttpRequest, scheme: str) -> None:
    """Let this request's page submit forms that redirect to ``scheme:``."""
    setattr(request, FORM_ACTION_ATTRIBUTE, scheme)


class PolicyMiddleware(CSPMiddleware):
    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        scheme = getattr(request, FORM_ACTION_ATTRIBUTE, None)
        if scheme:
            update = dict(parts.update or {})
            update["form-action"] = [*update.get("form-action", []), f"{scheme}:"]
            parts.update = update
        return parts

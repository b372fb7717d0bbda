"""The application form of the admin: what DOT's model holds, plus the device sign-in switch.

DOT keeps one grant type per client (the code grant here). The device grant (RFC 8628) is
open to a public client whose metadata lists it (:meth:`Application.allows_device_grant`):
a self-registered client declares it itself; for a client an administrator creates, this
form's checkbox writes it into the client's metadata the same way.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from oauth2_provider.models import get_application_model

from .registration import granted_types
from .tokens import AUTHORIZATION_CODE, DEVICE_CODE

Application = get_application_model()


class ApplicationForm(forms.ModelForm):
    device_sign_in = forms.BooleanField(
        required=False,
        label=_("Allow device sign-in"),
        help_text=_(
            "For a public client on a machine with no browser of its own (a terminal over SSH, a "
            "container): it shows the person a code to enter at /device (RFC 8628)."
        ),
    )

    class Meta:
        model = Application
        fields = "__all__"  # noqa: DJ007 -- the admin picks the fields (get_exclude, readonly_fields)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial.setdefault("device_sign_in", self.instance.allows_device_grant)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        public = cleaned.get("client_type") == Application.CLIENT_PUBLIC
        if cleaned.get("device_sign_in") and not public:
            self.add_error("device_sign_in", _("Device sign-in is for public clients only."))
        if cleaned.get("authorization_grant_type") == Application.GRANT_DEVICE_CODE and not public:
            self.add_error("authorization_grant_type", _("The device grant is for public clients only."))
        return cleaned

    def save(self, commit: bool = True) -> Any:
        if "device_sign_in" in self.cleaned_data:
            metadata = dict(self.instance.client_metadata or {})
            if self.instance.authorization_grant_type == Application.GRANT_DEVICE_CODE:
                declared = [DEVICE_CODE]  # the device grant alone: no code grant to claim
            else:
                declared = [AUTHORIZATION_CODE, *([DEVICE_CODE] if self.cleaned_data["device_sign_in"] else [])]
            metadata["grant_types"] = granted_types(declared)
            self.instance.client_metadata = metadata
        return super().save(commit)

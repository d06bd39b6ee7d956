"""OpenAPI: every operation documents the error body it can answer with, not only its success."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable: invalid, not_authenticated, permission_denied, ...")
    message = serializers.CharField(help_text="What went wrong, in words an operator can act on.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Per input field (dotted for nested ones), the reasons it was refused.",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


class ApiAutoSchema(AutoSchema):
    """Adds the error responses that the permission, throttle and validation layers can produce."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        needs_login = bool(self.view.permission_classes)  # only the token endpoint is open
        errors = {"429": "Too many requests; retry after the `Retry-After` seconds."}
        if needs_login:
            errors["401"] = "Not logged in: send `Authorization: Token <key>` or a session cookie."
        writes = self.method not in ("GET", "HEAD", "OPTIONS")
        if writes:
            errors["400"] = "Invalid input: `fields` names each refused field and why."
            if needs_login:
                errors["403"] = "Changing state needs a staff user."
        elif self._is_list_view() and getattr(self.view, "pagination_class", None):
            errors["400"] = "Invalid filter value."
            errors["404"] = "No such page."
        if "{" in self.path:
            errors["404"] = "No such object."
        for code, description in errors.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(ErrorSerializer, code)
                responses[code]["description"] = description
        return responses

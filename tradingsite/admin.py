"""Admin pages for the security apps: API tokens and second-factor devices without their secrets,
and the audit log of each audited object (django-auditlog) beside its usual history.

Loaded after the product apps and the security apps (``tradingsite`` is last in INSTALLED_APPS),
so it can replace their registrations.
"""

from __future__ import annotations

from auditlog.mixins import AuditlogHistoryAdminMixin
from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken

from .api.tokens import api_token_issue, api_tokens_revoke_all, token_id
from .audit import AUDITED

for _model in (AuthToken, TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(AuthToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens listed by owner and dates only: the value is shown once, when it is created."""

    list_display = ("token", "user", "created", "expiry")
    list_filter = ("user",)
    search_fields = ("user__username",)
    fields = ("user",)
    actions = ("revoke_all_of_their_users",)

    @admin.display(description="Token id")
    def token(self, obj: AuthToken) -> str:
        return token_id(obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        # Issued by the one service (expiry from API_TOKEN_DAYS); its value appears in this message only.
        issued = api_token_issue(user=form.cleaned_data["user"])
        saved = AuthToken.objects.get(digest__startswith=issued.id)
        obj.digest, obj.token_key, obj.created, obj.expiry = saved.digest, saved.token_key, saved.created, saved.expiry
        self.message_user(
            request, f"New API token for {obj.user}: {issued.token} (shown once; copy it now).", messages.WARNING
        )

    def response_add(self, request, obj, post_url_continue=None):
        return self.response_post_save_add(request, obj)

    @admin.action(description="Revoke every token of the selected tokens' users")
    def revoke_all_of_their_users(self, request, queryset):
        users = {token.user for token in queryset.select_related("user")}
        revoked = sum(api_tokens_revoke_all(user=user) for user in users)
        self.message_user(request, f"Revoked {revoked} tokens of {len(users)} users.")


class _DeviceAdmin(admin.ModelAdmin):
    """A second-factor device by owner and state; its key or codes are never shown. Deleting it
    makes its user enrol again (a lost phone)."""

    list_display = ("user", "name", "confirmed")
    fields = ("user", "name", "confirmed")
    readonly_fields = ("user", "name", "confirmed")

    def has_add_permission(self, request) -> bool:
        return False


admin.site.register(TOTPDevice, _DeviceAdmin)
admin.site.register(StaticDevice, _DeviceAdmin)


class _AuditHistory(AuditlogHistoryAdminMixin):
    show_auditlog_history_link = True

    def auditlog_history_view(self, request, object_id, extra_context=None):
        # auditlog's view fails (a 500) on an id that does not exist: answer as the admin's own pages do.
        if self.get_object(request, unquote(object_id)) is None:
            return self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)
        return super().auditlog_history_view(request, object_id, extra_context)


# Each audited model's admin gains its audit log ("Audit log" column and <id>/auditlog/ page).
for _label in AUDITED:
    _model = apps.get_model(_label)
    if not admin.site.is_registered(_model):
        continue
    _current = type(admin.site._registry[_model])
    admin.site.unregister(_model)
    admin.site.register(
        _model,
        type(_current.__name__, (_AuditHistory, _current), {}),
    )

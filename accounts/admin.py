from django import forms
from django.contrib import admin

from .models import Account


class AccountForm(forms.ModelForm):
    # Write-only secret fields: left blank keeps the stored value; never rendered back.
    api_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Kite Connect api_secret. Stored encrypted; leave blank to keep the current one.",
    )

    class Meta:
        model = Account
        fields = "__all__"

    def save(self, commit=True):
        account = super().save(commit=False)
        if self.cleaned_data.get("api_secret"):
            account.set_api_secret(self.cleaned_data["api_secret"])
        if commit:
            account.save()
        return account


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    form = AccountForm
    list_display = (
        "name",
        "broker",
        "zerodha_user_id",
        "capital",
        "daily_loss_limit",
        "trading_enabled",
        "status",
        "secret_set",
        "logged_in",
    )
    list_filter = ("broker", "status", "trading_enabled", "is_data_account")
    search_fields = ("name", "zerodha_user_id", "api_key")
    # Status moves only through halt/resume and the Kite login, which leave an audit event.
    readonly_fields = (
        "status",
        "status_reason",
        "status_changed_at",
        "secret_set",
        "token_set",
        "access_token_expires_at",
    )
    fieldsets = (
        (None, {"fields": ("name", "broker", "zerodha_user_id")}),
        (
            "Capital and limits",
            {
                "fields": (
                    "capital",
                    "daily_loss_limit",
                    "max_order_quantity",
                    "max_order_value",
                    "max_open_positions",
                    "auto_flatten_on_daily_loss",
                )
            },
        ),
        ("State", {"fields": ("trading_enabled", "status", "status_reason", "status_changed_at")}),
        (
            "Kite Connect",
            {
                "fields": (
                    "api_key",
                    "api_secret",
                    "secret_set",
                    "token_set",
                    "access_token_expires_at",
                    "is_data_account",
                )
            },
        ),
    )

    @admin.display(boolean=True, description="api_secret set")
    def secret_set(self, obj):
        return obj.has_api_secret

    @admin.display(boolean=True, description="access token set")
    def token_set(self, obj):
        return obj.has_access_token

    @admin.display(boolean=True, description="logged in")
    def logged_in(self, obj):
        return obj.is_logged_in

import json

from django import forms
from django.contrib import admin, messages

from . import services
from .library import strategy_choices
from .models import Candle, Instrument, MarketHoliday, Signal, Strategy, StrategyWebhook, WebhookRequest


class StrategyForm(forms.ModelForm):
    library_key = forms.ChoiceField(label="Strategy type", choices=strategy_choices)

    class Meta:
        model = Strategy
        fields = "__all__"
        help_texts = {
            "parameters": "JSON object. Leave {} for the strategy type's defaults; unknown keys are refused.",
        }


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = ("tradingsymbol", "exchange", "instrument_token", "lot_size", "tick_size", "segment")
    list_filter = ("exchange", "segment", "instrument_type")
    search_fields = ("tradingsymbol", "name", "=instrument_token")


@admin.register(Strategy)
class StrategyAdmin(admin.ModelAdmin):
    form = StrategyForm
    list_display = ("name", "library_key", "timeframe", "product", "active", "trading_enabled", "last_evaluated_at")
    list_filter = ("library_key", "timeframe", "product", "active", "trading_enabled")
    search_fields = ("name", "library_key", "instruments__tradingsymbol")
    filter_horizontal = ("instruments",)
    readonly_fields = ("last_evaluated_at", "last_error", "parameter_defaults", "webhook_url")
    actions = ["activate", "deactivate", "rotate_webhook_secret"]

    @admin.action(description="Create the webhook, or rotate its secret (the new secret is shown once)")
    def rotate_webhook_secret(self, request, queryset):
        for strategy in queryset:
            webhook, secret = services.strategy_webhook_rotate(strategy=strategy, actor=request.user)
            self.log_change(request, strategy, "Webhook secret set from the admin")
            self.message_user(
                request,
                f"{strategy.name}: webhook URL {request.build_absolute_uri(webhook.path)} — secret {secret} "
                "(shown this once: copy it into the alert now; the previous secret no longer works).",
                messages.WARNING,
            )

    @admin.display(description="webhook URL")
    def webhook_url(self, obj):
        webhook = StrategyWebhook.objects.filter(strategy=obj).first() if obj.pk else None
        if webhook is None:
            return "None yet: use the action “Create the webhook, or rotate its secret” in the list."
        return f"{webhook.path} ({'enabled' if webhook.enabled else 'disabled'})"

    @admin.action(description="Activate the selected strategies (evaluated on their next bar)")
    def activate(self, request, queryset):
        self._set_active(request, queryset, active=True)

    @admin.action(description="Deactivate the selected strategies (no new signals; positions stay)")
    def deactivate(self, request, queryset):
        self._set_active(request, queryset, active=False)

    def _set_active(self, request, queryset, *, active: bool) -> None:
        changed = [
            strategy
            for strategy in queryset
            if services.strategy_set_active(strategy=strategy, active=active, actor=request.user)
        ]
        verb = "activated" if active else "deactivated"
        for strategy in changed:
            self.log_change(request, strategy, f"{verb.capitalize()} from the admin")
        unchanged = queryset.count() - len(changed)
        if changed:
            names = ", ".join(s.name for s in changed)
            self.message_user(request, f"{len(changed)} strategy(ies) {verb}: {names}.", messages.SUCCESS)
        if unchanged:
            self.message_user(request, f"{unchanged} strategy(ies) were already {verb}.", messages.INFO)

    @admin.display(description="defaults of this strategy type")
    def parameter_defaults(self, obj):
        from .library import get_strategy_class

        try:
            return json.dumps(get_strategy_class(obj.library_key).default_parameters())
        except KeyError:
            return "-"


@admin.register(Signal)
class SignalAdmin(admin.ModelAdmin):
    list_display = ("bar_time", "strategy", "instrument", "target", "price", "stop_price", "source", "data_source")
    list_filter = ("source", "target", "strategy", "data_source")
    search_fields = ("instrument__tradingsymbol", "strategy__name", "note")
    list_select_related = ("strategy", "instrument")
    date_hierarchy = "bar_time"

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # a signal is the audit trail of why orders went out


@admin.register(MarketHoliday)
class MarketHolidayAdmin(admin.ModelAdmin):
    list_display = ("date", "description")


@admin.register(Candle)
class CandleAdmin(admin.ModelAdmin):
    list_display = ("instrument", "timeframe", "start", "open", "high", "low", "close", "volume", "source")
    list_filter = ("timeframe", "source")
    search_fields = ("instrument__tradingsymbol",)


@admin.register(StrategyWebhook)
class StrategyWebhookAdmin(admin.ModelAdmin):
    list_display = ("strategy", "path", "enabled", "created_at", "rotated_at")
    list_editable = ("enabled",)
    readonly_fields = ("strategy", "public_id", "created_at", "rotated_at")
    fields = ("strategy", "public_id", "enabled", "created_at", "rotated_at")

    def has_add_permission(self, request):
        return False  # created by the strategy's action, which shows the secret once


@admin.register(WebhookRequest)
class WebhookRequestAdmin(admin.ModelAdmin):
    """Every request to a webhook URL: read-only, the record of what came in and what became of it."""

    list_display = ("received_at", "webhook", "status_code", "outcome", "alert_id", "signal", "remote_addr")
    list_filter = ("outcome", "status_code", "webhook")
    search_fields = ("alert_id", "message", "public_id", "body")
    date_hierarchy = "received_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets

from . import services
from .library import get_strategy_class, strategy_choices
from .models import Candle, Evaluation, Instrument, MarketHoliday, Signal, Strategy, StrategyWebhook, WebhookRequest
from .parameter_forms import PREFIX, add_parameter_fields, clean_parameters


class StrategyForm(forms.ModelForm):
    """The strategy with its parameters as fields generated from its type's parameter model.

    The fields follow the type being saved (the one posted, else the strategy's own); a new strategy
    starts from its type's defaults, editable once it is saved. A rule across parameters is
    reported once, above the form.
    """

    library_key = forms.ChoiceField(label="Strategy type", choices=strategy_choices)

    class Meta:
        model = Strategy
        # Not "parameters": its generated fields take its place.
        fields = (
            "name",
            "library_key",
            "timeframe",
            "instruments",
            "product",
            "active",
            "trading_enabled",
            "enter_on_first_bar",
            "max_positions",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.strategy_class = None
        self.parameter_names: list[str] = []
        if not self.instance.pk:
            return  # a new strategy starts from its type's defaults (see clean)
        key = (self.data.get("library_key") if self.is_bound else None) or self.instance.library_key
        if key:
            try:
                self.strategy_class = get_strategy_class(key)
            except KeyError:
                return
            same_type = self.instance.pk and key == self.instance.library_key
            values = self.instance.parameters if same_type else None
            self.parameter_names = add_parameter_fields(self, self.strategy_class, values)

    def clean(self):
        data = super().clean()
        if self.strategy_class is not None and self.parameter_names:
            parameters = clean_parameters(self, self.strategy_class)
            if parameters is not None:
                self.instance.parameters = parameters
        elif not self.instance.pk and data.get("library_key"):
            try:
                self.instance.parameters = get_strategy_class(data["library_key"]).default_parameters()
            except KeyError:
                pass  # the model's clean names the unknown type
        return data

    def _post_clean(self):
        super()._post_clean()
        # Strategy.clean reports a parameter error under "parameters", a field this form does not
        # show: the generated fields already carry it, so it is not repeated.
        self._errors.pop("parameters", None) if self._errors else None


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

    def get_fieldsets(self, request, obj=None):
        # The parameters of the strategy's type, as StrategyForm generates them, in their own section.
        fieldsets = [(None, {"fields": [f for f in self.get_fields(request, obj) if not f.startswith(PREFIX)]})]
        key = None
        if obj is not None:
            key = (request.POST.get("library_key") if request.method == "POST" else None) or obj.library_key
        try:
            model_fields = get_strategy_class(key).Parameters.model_fields if key else {}
        except KeyError:
            model_fields = {}
        if model_fields:
            description = "From the strategy type's parameter model: types, bounds and help text."
            fieldsets.append(("Parameters", {"fields": [PREFIX + n for n in model_fields], "description": description}))
        elif obj is None:
            description = "A new strategy starts with its type's default parameters; edit them once it is saved."
            fieldsets.append(("Parameters", {"fields": [], "description": description}))
        return fieldsets

    def get_form(self, request, obj=None, change=False, **kwargs):
        # The generated parameter fields are added per instance by StrategyForm, not by the model.
        fields = kwargs.get("fields")
        if fields is None and "fields" not in kwargs:
            fields = flatten_fieldsets(self.get_fieldsets(request, obj))
        if fields is not None:
            kwargs["fields"] = [f for f in fields if not f.startswith(PREFIX)]
        return super().get_form(request, obj, change=change, **kwargs)

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


@admin.register(Evaluation)
class EvaluationAdmin(admin.ModelAdmin):
    """The evaluation ledger, read-only: one row per (strategy, bar)."""

    list_display = (
        "bar_close",
        "strategy",
        "timeframe",
        "outcome",
        "reason_code",
        "instruments_evaluated",
        "instruments_total",
        "signals_made",
        "duration_ms",
    )
    list_filter = ("outcome", "reason_code", "timeframe", "strategy")
    list_select_related = ("strategy",)
    date_hierarchy = "bar_close"

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


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

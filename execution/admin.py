"""Admin for mappings, orders, fills and positions; and, from here because they need execution and
risk (which accounts and strategies must not import), the mapping inlines on accounts and
strategies and the halt/resume actions on accounts."""

from decimal import Decimal

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.models import BaseInlineFormSet

from accounts.admin import AccountAdmin
from accounts.models import Account, AccountStatus
from risk import services as risk_services
from strategies.admin import SignalAdmin, StrategyAdmin
from strategies.models import Signal, Strategy

from .mappings import mapping_save
from .models import AccountStrategy, Delivery, Fill, Operation, Order, Position, PositionMismatch


class AuditAdmin(admin.ModelAdmin):
    """What the system did: written by the pipeline only, never edited or deleted by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AccountStrategy)
class AccountStrategyAdmin(admin.ModelAdmin):
    list_display = ("account", "strategy", "allocation_pct", "risk_per_trade_pct", "enabled", "allocated", "budget")
    list_filter = ("enabled", "account", "strategy")
    search_fields = ("account__name", "strategy__name")
    list_select_related = ("account", "strategy")

    @admin.display(description="allocated ₹")
    def allocated(self, obj):
        return obj.allocated_capital

    @admin.display(description="max loss per trade ₹")
    def budget(self, obj):
        return obj.risk_budget

    def save_model(self, request, obj, form, change):
        # Through the service: the 100% rule is checked again under the account's row lock.
        mapping_save(
            account=obj.account,
            strategy=obj.strategy,
            allocation_pct=obj.allocation_pct,
            risk_per_trade_pct=obj.risk_per_trade_pct,
            enabled=obj.enabled,
            mapping=obj if obj.pk else None,
        )


# --- mappings inline on accounts and strategies ----------------------------------------------


class AccountMappingFormSet(BaseInlineFormSet):
    """Each row is checked against the mappings saved now (the model's rule, also enforced by
    ``mapping_save``); this adds the check across the rows edited together, which no row alone sees."""

    def clean(self):
        super().clean()
        rows = [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE") and form.cleaned_data.get("enabled")
        ]
        total = sum((row.get("allocation_pct") or Decimal("0") for row in rows), Decimal("0"))
        if total > 100:
            names = ", ".join(
                f"{row['strategy'].name} {row['allocation_pct']:.2f}%" for row in rows if row.get("strategy")
            )
            raise ValidationError(f"The enabled mappings add up to {total:.2f}%, more than 100%: {names}.")
        if any("allocation_pct" in form.errors for form in self.forms):
            # Moving allocation from one strategy to another in one save reads as too much, because
            # the raised row is checked beside the other row's saved value.
            raise ValidationError(
                "Each mapping is checked against the allocations saved now: to move allocation from one "
                "strategy to another, save the lowered mapping first, then raise the other."
            )


class MappingInline(admin.TabularInline):
    model = AccountStrategy
    extra = 0
    readonly_fields = ("allocated", "budget")

    @admin.display(description="allocated ₹")
    def allocated(self, obj):
        return obj.allocated_capital if obj.pk else "-"

    @admin.display(description="max loss per trade ₹")
    def budget(self, obj):
        return obj.risk_budget if obj.pk else "-"


class AccountMappingInline(MappingInline):
    formset = AccountMappingFormSet
    fields = ("strategy", "allocation_pct", "risk_per_trade_pct", "enabled", "allocated", "budget")
    autocomplete_fields = ("strategy",)


class StrategyMappingInline(MappingInline):
    fields = ("account", "allocation_pct", "risk_per_trade_pct", "enabled", "allocated", "budget")
    autocomplete_fields = ("account",)


class MappingsSavedThroughService:
    """Inline mapping rows are saved with ``mapping_save``, lowest change first: an account's total
    only falls and then rises to its final value, so no intermediate save exceeds 100%."""

    def save_formset(self, request, form, formset, change):
        if formset.model is not AccountStrategy:
            return super().save_formset(request, form, formset, change)
        with transaction.atomic():
            formset.save(commit=False)
            for mapping in formset.deleted_objects:
                mapping.delete()
            changed = [f for f in formset.forms if f.has_changed() and f not in formset.deleted_forms]
            for row in sorted(changed, key=_allocation_change):
                mapping = row.instance
                mapping_save(
                    account=mapping.account,
                    strategy=mapping.strategy,
                    allocation_pct=mapping.allocation_pct,
                    risk_per_trade_pct=mapping.risk_per_trade_pct,
                    enabled=mapping.enabled,
                    mapping=mapping if mapping.pk else None,
                )
        return None


def _allocation_change(row) -> Decimal:
    mapping = row.instance
    new = mapping.allocation_pct if mapping.enabled else Decimal("0")
    old_enabled = row.initial.get("enabled", False)
    old = Decimal(row.initial.get("allocation_pct") or 0) if old_enabled else Decimal("0")
    return new - old


class AccountOperatorAdmin(MappingsSavedThroughService, AccountAdmin):
    inlines = [*AccountAdmin.inlines, AccountMappingInline]
    actions = ["halt_accounts", "resume_accounts"]

    @admin.action(description="Halt the selected accounts (no new entries; exits stay possible)")
    def halt_accounts(self, request, queryset):
        reason = f"Halted from the admin by {request.user}"
        halted = []
        for account in queryset:
            if account.status != AccountStatus.HALTED:
                halted.append(risk_services.account_halt(account=account, reason=reason, actor=request.user))
        if halted:
            names = ", ".join(a.name for a in halted)
            self.message_user(request, f"{len(halted)} account(s) halted: {names}.", messages.SUCCESS)
        else:
            self.message_user(request, "The selected accounts were already halted.", messages.INFO)

    @admin.action(description="Resume the selected halted accounts")
    def resume_accounts(self, request, queryset):
        resumed, skipped = [], []
        for account in queryset:
            if account.status == AccountStatus.HALTED:
                resumed.append(
                    risk_services.account_resume(
                        account=account, actor=request.user, reason=f"Resumed from the admin by {request.user}"
                    )
                )
            else:
                skipped.append(f"{account.name} ({account.get_status_display().lower()})")
        if resumed:
            names = ", ".join(a.name for a in resumed)
            self.message_user(request, f"{len(resumed)} account(s) resumed: {names}.", messages.SUCCESS)
        if skipped:
            # A Kite account that needs a login is not halted: only a login brings it back.
            self.message_user(request, f"Not halted, left as they are: {', '.join(skipped)}.", messages.WARNING)


class StrategyOperatorAdmin(MappingsSavedThroughService, StrategyAdmin):
    inlines = [*StrategyAdmin.inlines, StrategyMappingInline]


admin.site.unregister(Account)
admin.site.register(Account, AccountOperatorAdmin)
admin.site.unregister(Strategy)
admin.site.register(Strategy, StrategyOperatorAdmin)


# --- orders, fills, positions: read-only records ------------------------------------------------


class FillInline(admin.TabularInline):
    model = Fill
    extra = 0
    can_delete = False
    readonly_fields = ("broker_trade_id", "quantity", "price", "realised_pnl", "filled_at")
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(AuditAdmin):
    # Status first and the broker's or risk's message shortened, so the list fits 1,400 px beside
    # its filters (the whole message and the tag are on the order's page, and searchable).
    list_display = (
        "created_at",
        "status",
        "account",
        "strategy",
        "instrument",
        "leg_and_side",
        "quantity",
        "average_price",
        "short_message",
    )
    list_filter = ("status", "leg", "side", "account", "strategy")

    @admin.display(description="order", ordering="leg")
    def leg_and_side(self, obj):
        return f"{obj.get_leg_display()} {obj.side}"

    @admin.display(description="message")
    def short_message(self, obj):
        from django.utils.html import format_html
        from django.utils.text import Truncator

        if not obj.status_message:
            return ""
        return format_html('<span title="{}">{}</span>', obj.status_message, Truncator(obj.status_message).chars(70))

    search_fields = ("tag", "broker_order_id", "instrument__tradingsymbol", "status_message")
    date_hierarchy = "created_at"
    inlines = [FillInline]
    list_select_related = ("account", "strategy", "instrument")


@admin.register(Fill)
class FillAdmin(AuditAdmin):
    list_display = (
        "filled_at",
        "account",
        "order",
        "quantity",
        "price",
        "realised_pnl",
        "charges",
        "charges_estimated",
    )
    list_filter = ("account",)
    search_fields = ("broker_trade_id", "order__tag", "order__instrument__tradingsymbol")
    date_hierarchy = "filled_at"
    list_select_related = ("account", "order", "order__instrument", "order__account")


@admin.register(Position)
class PositionAdmin(AuditAdmin):
    list_display = (
        "account",
        "strategy",
        "instrument",
        "product",
        "quantity",
        "average_price",
        "last_price",
        "realised_pnl",
        "unrealised_pnl",
        "state_unknown",
    )
    list_filter = ("account", "strategy", "product", "state_unknown")
    search_fields = ("instrument__tradingsymbol", "account__name", "strategy__name")
    list_select_related = ("account", "strategy", "instrument")


@admin.register(PositionMismatch)
class PositionMismatchAdmin(AuditAdmin):
    list_display = (
        "last_seen_at",
        "account",
        "exchange",
        "tradingsymbol",
        "product",
        "ledger_quantity",
        "broker_quantity",
        "times_seen",
        "resolved_at",
    )
    list_filter = ("account", "product", ("resolved_at", admin.EmptyFieldListFilter))
    search_fields = ("tradingsymbol", "account__name")
    list_select_related = ("account",)


@admin.register(Operation)
class OperationAdmin(AuditAdmin):
    """Emergency stops, flattens and square-offs as they were recorded; the dashboard's Operations
    page shows each one account by account."""

    list_display = ("id", "created_at", "kind", "state", "actor", "account", "strategy", "reason", "finished_at")
    list_display_links = ("id", "created_at")
    list_filter = ("kind", "state")
    search_fields = ("reason", "summary", "account__name", "strategy__name", "actor__username")
    list_select_related = ("actor", "account", "strategy")
    date_hierarchy = "created_at"


# --- deliveries: each mapped account's outcome of a signal --------------------------------------


class DeliveryInline(admin.TabularInline):
    model = Delivery
    fields = ("account", "state", "reason", "orders", "decided_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description="orders")
    def orders(self, delivery: Delivery) -> str:
        placed = Order.objects.filter(signal_id=delivery.signal_id, account_id=delivery.account_id).order_by("id")
        return ", ".join(f"{o.leg} {o.side} {o.quantity} [{o.status}]" for o in placed) or "—"

    def has_add_permission(self, request, obj=None):
        return False


admin.site.unregister(Signal)


@admin.register(Signal)
class SignalWithDeliveriesAdmin(SignalAdmin):
    """The strategies app's signal admin, with the deliveries (execution's) under each signal."""

    inlines = [*SignalAdmin.inlines, DeliveryInline]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("signal", "account", "state", "reason", "created_at", "decided_at")
    list_filter = ("state",)
    search_fields = ("account__name", "signal__strategy__name", "signal__instrument__tradingsymbol")
    list_select_related = ("signal__strategy", "signal__instrument", "account")
    readonly_fields = ("signal", "account", "state", "reason", "created_at", "nudged_at", "decided_at")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the record of what happened to a signal on an account

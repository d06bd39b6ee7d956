from django.contrib import admin

from .models import AccountStrategy, Fill, Order, Position


@admin.register(AccountStrategy)
class AccountStrategyAdmin(admin.ModelAdmin):
    list_display = ("account", "strategy", "allocation_pct", "risk_per_trade_pct", "enabled", "allocated", "budget")
    list_filter = ("enabled", "account", "strategy")
    search_fields = ("account__name", "strategy__name")

    @admin.display(description="allocated ₹")
    def allocated(self, obj):
        return obj.allocated_capital

    @admin.display(description="max loss per trade ₹")
    def budget(self, obj):
        return obj.risk_budget


class FillInline(admin.TabularInline):
    model = Fill
    extra = 0
    can_delete = False
    readonly_fields = ("broker_trade_id", "quantity", "price", "realised_pnl", "filled_at")
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "account",
        "strategy",
        "instrument",
        "leg",
        "side",
        "quantity",
        "status",
        "average_price",
        "tag",
        "status_message",
    )
    list_filter = ("status", "leg", "side", "account", "strategy")
    search_fields = ("tag", "broker_order_id", "instrument__tradingsymbol")
    date_hierarchy = "created_at"
    inlines = [FillInline]
    list_select_related = ("account", "strategy", "instrument")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Fill)
class FillAdmin(admin.ModelAdmin):
    list_display = ("filled_at", "account", "order", "quantity", "price", "realised_pnl")
    list_filter = ("account",)
    list_select_related = ("account", "order", "order__instrument", "order__account")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Position)
class PositionAdmin(admin.ModelAdmin):
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
    list_select_related = ("account", "strategy", "instrument")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

from django.contrib import admin

from .models import ChargeSchedule, EngineState, RiskDecisionRecord, RiskEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    """Audit records are written by the system only."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(EngineState)
class EngineStateAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "running", "kill_switch", "reason", "changed_by", "changed_at")


@admin.register(RiskEvent)
class RiskEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "kind", "account", "strategy", "actor", "message")
    list_filter = ("kind", "account")
    date_hierarchy = "created_at"


@admin.register(RiskDecisionRecord)
class RiskDecisionRecordAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "account",
        "strategy",
        "instrument",
        "side",
        "quantity",
        "is_exit",
        "approved",
        "summary",
    )
    list_filter = ("approved", "is_exit", "account")
    search_fields = ("summary", "instrument__tradingsymbol")
    date_hierarchy = "created_at"


@admin.register(ChargeSchedule)
class ChargeScheduleAdmin(admin.ModelAdmin):
    list_display = ("exchange", "product", *ChargeSchedule.RATE_FIELDS, "updated_at")
    list_editable = ChargeSchedule.RATE_FIELDS

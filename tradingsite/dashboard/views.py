"""The dashboard's pages. Each reads through selectors and renders; none writes.

A page has a live region: the browser loads the whole page once, then htmx asks for the same URL
every few seconds and gets only the region back (``request.htmx``), so figures refresh without a
reload. The charts of the P&L page read ``pnl_charts`` (JSON) the same way.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from accounts.models import Account
from execution import selectors as execution_selectors
from execution.models import Operation
from risk import selectors as risk_selectors
from strategies import selectors as strategy_selectors
from strategies.models import Signal, Strategy, StrategyWebhook

from .access import viewer_required
from .forms import EmergencyStopForm, ManualSignalForm, OperationFilterForm, OrderFilterForm, StrategySettingsForm

logger = logging.getLogger(__name__)

POSITIONS_PER_PAGE = 100
ORDERS_PER_PAGE = 50
OPERATIONS_PER_PAGE = 25
SIGNALS_SHOWN = 50


def _live(request: HttpRequest, page: str, fragment: str, context: dict) -> HttpResponse:
    """The whole page for a browser, or just its live fragment for htmx's refresh."""
    return render(request, fragment if request.htmx else page, context)


@viewer_required
def overview(request: HttpRequest) -> HttpResponse:
    snapshot = execution_selectors.pnl_snapshot()
    accounts = execution_selectors.account_rows(snapshot=snapshot)
    context = {
        "engine": risk_selectors.engine_state(),
        "totals": execution_selectors.pnl_totals(snapshot=snapshot),
        "accounts": accounts,
        "strategies": execution_selectors.strategy_rows(active_only=True, snapshot=snapshot),
        "positions": execution_selectors.open_positions().order_by("account__name", "instrument__tradingsymbol")[:10],
        "orders": execution_selectors.recent_orders(limit=10),
        "events": risk_selectors.recent_risk_events(limit=8),
        "emergency_form": EmergencyStopForm(),
    }
    return _live(request, "dashboard/overview.html", "dashboard/partials/overview_live.html", context)


@viewer_required
def pnl(request: HttpRequest) -> HttpResponse:
    snapshot = execution_selectors.pnl_snapshot()
    accounts = execution_selectors.account_rows(snapshot=snapshot)
    context = {
        "totals": execution_selectors.pnl_totals(snapshot=snapshot),
        "by_strategy": execution_selectors.pnl_by_strategy(snapshot=snapshot),
        "accounts": accounts,
        "distribution": execution_selectors.position_distribution(snapshot=snapshot),
        "curve": execution_selectors.equity_curve(snapshot=snapshot),
    }
    return _live(request, "dashboard/pnl.html", "dashboard/partials/pnl_live.html", context)


@viewer_required
def pnl_charts(request: HttpRequest) -> JsonResponse:
    """The P&L page's chart data. Figures are floats here: they are drawn, never computed with."""
    snapshot = execution_selectors.pnl_snapshot()
    accounts = execution_selectors.account_rows(snapshot=snapshot)
    by_strategy = execution_selectors.pnl_by_strategy(snapshot=snapshot)
    curve = execution_selectors.equity_curve(snapshot=snapshot)
    distribution = execution_selectors.position_distribution(snapshot=snapshot)
    return JsonResponse(
        {
            "simulated": settings.MARKET_DATA_SOURCE == "simulated",
            "generated_at": timezone.now().isoformat(),
            "by_strategy": {
                "labels": [r["strategy"] for r in by_strategy],
                "realised": [float(r["realised"]) for r in by_strategy],
                "unrealised": [float(r["unrealised"]) for r in by_strategy],
            },
            "by_account": {
                "labels": [r["account"].name for r in accounts],
                "realised": [float(r["realised"]) for r in accounts],
                "unrealised": [float(r["unrealised"]) for r in accounts],
            },
            # A true time axis: epoch milliseconds, one point per stored mark (a minute apart), then now.
            "equity": {
                "day_start": _epoch_ms(curve["start"]),
                "points": [
                    {"t": _epoch_ms(p["time"]), "equity": float(p["equity"]), "net": float(p["net"])}
                    for p in curve["points"]
                ]
                + [
                    {
                        "t": _epoch_ms(curve["now"]["time"]),
                        "equity": float(curve["now"]["equity"]),
                        "net": float(curve["now"]["net"]),
                    }
                ],
            },
            "distribution": {
                "labels": [r["instrument"] for r in distribution],
                "long": [float(r["long_value"]) for r in distribution],
                "short": [float(r["short_value"]) for r in distribution],
            },
        }
    )


def _epoch_ms(moment) -> int:
    return int(moment.timestamp() * 1000)


@viewer_required
def risk(request: HttpRequest) -> HttpResponse:
    """Each account's risk used today against every limit, as the pre-trade checks see it."""
    rows = execution_selectors.account_risk_usage()
    context = {
        "engine": risk_selectors.engine_state(),
        "rows": rows,
        "chart": {
            "labels": [r.account for r in rows],
            "loss_used_pct": [float(r.loss_used_pct) for r in rows],
            "exposure_pct": [float(r.exposure_pct or 0) for r in rows],
            "allocated_pct": [float(r.allocated_pct) for r in rows],
        },
    }
    return _live(request, "dashboard/risk.html", "dashboard/partials/risk_live.html", context)


@viewer_required
def accounts(request: HttpRequest) -> HttpResponse:
    context = {"accounts": execution_selectors.account_rows()}
    return _live(request, "dashboard/accounts.html", "dashboard/partials/accounts_live.html", context)


@viewer_required
def strategies(request: HttpRequest) -> HttpResponse:
    context = {"strategies": execution_selectors.strategy_rows()}
    return _live(request, "dashboard/strategies.html", "dashboard/partials/strategies_live.html", context)


STATE_BARS = 5


@viewer_required
def strategy_detail(request: HttpRequest, strategy_id: int) -> HttpResponse:
    """What the strategy wants on each instrument now and why, from its evaluation ledger (through
    the same selector as the API's state), beside what its mapped accounts hold."""
    strategy = get_object_or_404(Strategy, pk=strategy_id)
    states = strategy_selectors.strategy_instrument_states(strategy=strategy, bars=STATE_BARS)
    held: dict[int, list] = {}
    for position in execution_selectors.open_positions().filter(strategy=strategy).order_by("account__name"):
        held.setdefault(position.instrument_id, []).append(position)
    context = {
        "strategy": strategy,
        "states": [(state, held.get(state.instrument_id, [])) for state in states],
        "last_evaluation": strategy_selectors.evaluations(strategy_id=strategy.id).first(),
        "engine": risk_selectors.engine_state(),
        "mappings": strategy.mappings.select_related("account").order_by("account__name"),
        "bars_shown": STATE_BARS,
        "next_bar_close": strategy_selectors.next_bar_close(timeframe=strategy.timeframe),
    }
    return _live(request, "dashboard/strategy.html", "dashboard/partials/strategy_live.html", context)


@viewer_required
def mappings(request: HttpRequest) -> HttpResponse:
    context = {"mappings": execution_selectors.mapping_rows(), "accounts": execution_selectors.account_rows()}
    return _live(request, "dashboard/mappings.html", "dashboard/partials/mappings_live.html", context)


@viewer_required
def positions(request: HttpRequest) -> HttpResponse:
    filters = OrderFilterForm(request.GET)
    filters.is_valid()
    account_id = filters.cleaned_data.get("account")
    qs = execution_selectors.open_positions(account_id=account_id).order_by(
        "account__name", "strategy__name", "instrument__tradingsymbol"
    )
    if strategy_id := filters.cleaned_data.get("strategy"):
        qs = qs.filter(strategy_id=strategy_id)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": Paginator(qs, POSITIONS_PER_PAGE).get_page(request.GET.get("page")),
        "query": query.urlencode(),
        "totals": execution_selectors.pnl_totals(),
        "account_choices": Account.objects.order_by("name").values_list("id", "name"),
        "strategy_choices": Strategy.objects.order_by("name").values_list("id", "name"),
        "filters": filters.cleaned_data,
    }
    return _live(request, "dashboard/positions.html", "dashboard/partials/positions_live.html", context)


@viewer_required
def orders(request: HttpRequest) -> HttpResponse:
    filters = OrderFilterForm(request.GET)
    filters.is_valid()
    data = filters.cleaned_data
    orders = execution_selectors.orders_filtered(
        status=data.get("status") or "", account_id=data.get("account"), strategy_id=data.get("strategy")
    )
    if operation_id := data.get("operation"):
        orders = orders.filter(pk__in=execution_selectors.operation_order_ids(operation_id=operation_id))
    page = execution_selectors.orders_page(orders=orders, number=request.GET.get("page"), per_page=ORDERS_PER_PAGE)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "query": query.urlencode(),
        "filter_form": filters,
        "filters": data,
        "account_choices": Account.objects.order_by("name").values_list("id", "name"),
        "strategy_choices": Strategy.objects.order_by("name").values_list("id", "name"),
    }
    return _live(request, "dashboard/orders.html", "dashboard/partials/orders_live.html", context)


@viewer_required
def operations(request: HttpRequest) -> HttpResponse:
    """Emergency stops, flattens and square-offs, newest first, each with its progress."""
    filters = OperationFilterForm(request.GET)
    filters.is_valid()
    data = filters.cleaned_data
    qs = execution_selectors.operations_filtered(kind=data.get("kind") or "", state=data.get("state") or "")
    page = Paginator(qs, OPERATIONS_PER_PAGE).get_page(request.GET.get("page"))
    progress = execution_selectors.operations_progress(list(page.object_list))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "rows": [(operation, progress[operation.id]) for operation in page.object_list],
        "query": query.urlencode(),
        "filter_form": filters,
        "filters": data,
    }
    return _live(request, "dashboard/operations.html", "dashboard/partials/operations_live.html", context)


@viewer_required
def operation_detail(request: HttpRequest, operation_id: int) -> HttpResponse:
    """One operation account by account; its live region refreshes until nothing more will change."""
    try:
        detail = execution_selectors.operation_detail(operation_id=operation_id)
    except Operation.DoesNotExist:
        raise Http404("No such operation.")
    context = {"detail": detail, "operation": detail.operation}
    return _live(request, "dashboard/operation.html", "dashboard/partials/operation_live.html", context)


@viewer_required
def signals(request: HttpRequest) -> HttpResponse:
    return signals_page(request, form=ManualSignalForm())


def signals_page(request: HttpRequest, *, form: ManualSignalForm, status: int = 200) -> HttpResponse:
    """The signals page; the send action renders it again with the form's errors."""
    context = {"signals": execution_selectors.signals_with_order_counts(limit=SIGNALS_SHOWN), "form": form}
    if request.htmx:
        return render(request, "dashboard/partials/signals_live.html", context)
    context["last_prices"] = _last_prices()
    return render(request, "dashboard/signals.html", context, status=status)


def _last_prices() -> list[tuple[str, Decimal]]:
    """Last prices of the active strategies' instruments, for choosing a stop. Read once per page load."""
    # .all(): a fresh query each time. Evaluating the class-level field's own queryset would cache its
    # rows on it for the life of the process (a strategy's new instrument never got a price).
    instruments = list(ManualSignalForm.base_fields["instrument"].queryset.all())
    if not instruments:
        return []
    try:
        prices = strategy_selectors.market_data_source().ltp(instruments)
    except Exception:  # the page must still open (and the form still work) when prices are unavailable
        logger.warning("No last prices for the signals page", exc_info=True)
        return []
    return [(i.kite_symbol, prices.get(i.instrument_token)) for i in instruments]


@viewer_required
def signal_detail(request: HttpRequest, signal_id: int) -> HttpResponse:
    signal = get_object_or_404(Signal.objects.select_related("strategy", "instrument"), pk=signal_id)
    context = {
        "signal": signal,
        "orders": execution_selectors.signal_orders(signal_id=signal.id),
        "deliveries": execution_selectors.signal_deliveries(signal_id=signal.id),
    }
    return _live(request, "dashboard/signal_detail.html", "dashboard/partials/signal_orders_live.html", context)


@viewer_required
def strategy_settings(request: HttpRequest, strategy_id: int) -> HttpResponse:
    strategy = get_object_or_404(Strategy, pk=strategy_id)
    return strategy_settings_page(request, form=StrategySettingsForm(strategy=strategy))


def strategy_settings_page(
    request: HttpRequest,
    *,
    form: StrategySettingsForm,
    status: int = 200,
    webhook: StrategyWebhook | None = None,
    new_secret: str = "",
) -> HttpResponse:
    """A strategy's parameter form and its webhook; the actions render it again with their result."""
    strategy = form.strategy
    webhook = webhook or StrategyWebhook.objects.filter(strategy=strategy).first()
    context = {
        "form": form,
        "strategy": strategy,
        "webhook_url": request.build_absolute_uri(webhook.path) if webhook else "",
        "webhook": webhook,
        "new_secret": new_secret,
    }
    return render(request, "dashboard/strategy_settings.html", context, status=status)

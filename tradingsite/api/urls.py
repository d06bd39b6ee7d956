"""The API under /api/: no trailing slashes, as in /api/system/status and /api/accounts/3."""

from django.contrib.auth.decorators import login_required
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from .views import accounts, mappings, pnl, records, signals, strategies, system, webhooks
from .views.auth import TokenDetailView, TokenListView, TokenRevokeAllView, TokenView
from .views.not_found import NotFoundView

app_name = "api"

router = SimpleRouter(trailing_slash=False)
router.register("accounts", accounts.AccountViewSet, basename="account")
router.register("strategies", strategies.StrategyViewSet, basename="strategy")
router.register("instruments", strategies.InstrumentViewSet, basename="instrument")
router.register("mappings", mappings.MappingViewSet, basename="mapping")
router.register("orders", records.OrderViewSet, basename="order")
router.register("fills", records.FillViewSet, basename="fill")
router.register("positions", records.PositionViewSet, basename="position")
router.register("signals", records.SignalViewSet, basename="signal")
router.register("evaluations", records.EvaluationViewSet, basename="evaluation")
router.register("risk-decisions", records.RiskDecisionViewSet, basename="risk-decision")

urlpatterns = [
    path("auth/token", TokenView.as_view(), name="auth-token"),
    path("auth/tokens", TokenListView.as_view(), name="auth-tokens"),
    path("auth/tokens/revoke-all", TokenRevokeAllView.as_view(), name="auth-tokens-revoke-all"),
    path("auth/tokens/<str:token_id>", TokenDetailView.as_view(), name="auth-token-detail"),
    path("system/status", system.SystemStatusView.as_view(), name="system-status"),
    path("system/start", system.SystemStartView.as_view(), name="system-start"),
    path("system/stop", system.SystemStopView.as_view(), name="system-stop"),
    path("system/emergency-stop", system.EmergencyStopView.as_view(), name="system-emergency-stop"),
    path("system/operations", system.OperationListView.as_view(), name="system-operations"),
    path("system/operations/<int:operation_id>", system.OperationView.as_view(), name="system-operation"),
    path("system/kill-switch-reset", system.KillSwitchResetView.as_view(), name="system-kill-switch-reset"),
    path("signals/manual", signals.ManualSignalView.as_view(), name="signal-manual"),
    path("pnl/realtime", pnl.PnlRealtimeView.as_view(), name="pnl-realtime"),
    # Authenticated by the webhook's secret, not a login (charting tools cannot log in): see the view.
    path("webhooks/<str:public_id>", webhooks.WebhookView.as_view(), name="webhook"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # A browser that is not logged in is sent to the login page rather than shown a 401.
    # The split view serves its script as a file, so the Content-Security-Policy needs no inline script.
    path("docs/", login_required(SpectacularSwaggerSplitView.as_view(url_name="api:schema")), name="docs"),
    *router.urls,
    # Anything else under /api/ answers a 404 in the API's error format, not an HTML page.
    re_path(r"^.*$", NotFoundView.as_view(), name="not-found"),
]

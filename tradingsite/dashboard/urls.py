from django.contrib.auth import views as auth_views
from django.urls import path

from . import actions, charts, views

app_name = "dashboard"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("pnl/", views.pnl, name="pnl"),
    path("pnl/charts.json", views.pnl_charts, name="pnl-charts"),
    path("charts/<int:instrument_id>/", charts.chart, name="chart"),
    path("charts/<int:instrument_id>/data.json", charts.chart_data, name="chart-data"),
    path("charts/<int:instrument_id>/strategies/", charts.chart_states, name="chart-states"),
    path("risk/", views.risk, name="risk"),
    # Not "accounts/": that prefix belongs to the accounts app (the Kite login flow).
    path("broker-accounts/", views.accounts, name="accounts"),
    path("broker-accounts/<int:account_id>/halt/", actions.account_halt, name="account-halt"),
    path("broker-accounts/<int:account_id>/resume/", actions.account_resume, name="account-resume"),
    path("broker-accounts/<int:account_id>/flatten/", actions.account_flatten, name="account-flatten"),
    path("strategies/", views.strategies, name="strategies"),
    path("strategies/<int:strategy_id>/", views.strategy_detail, name="strategy"),
    path("strategies/<int:strategy_id>/stop/", actions.strategy_stop, name="strategy-stop"),
    path("strategies/<int:strategy_id>/settings/", views.strategy_settings, name="strategy-settings"),
    path("strategies/<int:strategy_id>/settings/save/", actions.strategy_settings_save, name="strategy-settings-save"),
    path("strategies/<int:strategy_id>/webhook/", actions.strategy_webhook_rotate, name="strategy-webhook-rotate"),
    path("mappings/", views.mappings, name="mappings"),
    path("positions/", views.positions, name="positions"),
    path("orders/", views.orders, name="orders"),
    path("operations/", views.operations, name="operations"),
    path("operations/<int:operation_id>/", views.operation_detail, name="operation"),
    path("signals/", views.signals, name="signals"),
    path("signals/send/", actions.manual_signal, name="signal-send"),
    path("signals/<int:signal_id>/", views.signal_detail, name="signal"),
    path("engine/start/", actions.engine_start, name="engine-start"),
    path("engine/stop/", actions.engine_stop, name="engine-stop"),
    path("engine/emergency-stop/", actions.emergency_stop, name="emergency-stop"),
    path("engine/kill-switch-reset/", actions.kill_switch_reset, name="kill-switch-reset"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="dashboard/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from execution import selectors as execution_selectors
from risk.selectors import engine_state


@login_required
def overview(request):
    return render(
        request,
        "tradingsite/overview.html",
        {
            "engine": engine_state(),
            "pnl_rows": execution_selectors.pnl_by_account(),
            "positions": execution_selectors.open_positions()[:50],
        },
    )

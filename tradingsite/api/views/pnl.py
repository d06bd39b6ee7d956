"""Today's P&L, live: per account, per strategy and in total."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from execution import selectors
from execution.serializers import PnlRealtimeSerializer


class PnlRealtimeView(APIView):
    @extend_schema(
        tags=["pnl"],
        summary="P&L today per account and per strategy, with totals",
        description="Realised: fills since midnight IST. Unrealised: open positions at their last mark "
        "(marked every few seconds by the mark-to-market task). Amounts in rupees, as strings.",
        responses=PnlRealtimeSerializer,
    )
    def get(self, request):
        return Response(PnlRealtimeSerializer(selectors.pnl_realtime()).data)

"""The project's URLs plus two mistakes, for the URL walk's test of itself: a page that asks for no
login, and an API URL the schema does not describe (a plain Django view: DRF views document themselves)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def open_page(request):
    return HttpResponse("no login asked")


@login_required
def undocumented(request):
    return JsonResponse({})


urlpatterns = [
    path("new-open-page/", open_page),
    path("api/new-undocumented", undocumented),
    path("", include("tradingsite.urls")),
]

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("tradingsite.api.urls")),
    path("accounts/", include("accounts.urls")),
    path("", include("execution.urls")),
    path("", include("tradingsite.dashboard.urls")),
]

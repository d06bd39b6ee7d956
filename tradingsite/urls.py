from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

# A database that cannot be reached is a 503 with Retry-After, wherever it fails (tradingsite/database_errors.py).
handler500 = "tradingsite.database_errors.server_error"

urlpatterns = [
    # Browsers ask for /favicon.ico on every site; the icon is the project's own, in static/brand/.
    # Lazy: under the production settings the manifest is read at the first request, not when
    # the URLs load (check --deploy runs before collectstatic's manifest may exist).
    path(
        "favicon.ico",
        RedirectView.as_view(url=lazy(static, str)("brand/favicon.ico"), permanent=True),
        name="favicon",
    ),
    path("admin/", admin.site.urls),
    path("api/", include("tradingsite.api.urls")),
    path("accounts/", include("accounts.urls")),
    path("", include("tradingsite.security_urls")),
    path("", include("execution.urls")),
    path("", include("tradingsite.dashboard.urls")),
]

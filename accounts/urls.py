from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("kite/logins/", views.kite_logins, name="kite-logins"),
    path("kite/<int:account_id>/login/", views.kite_login, name="kite-login"),
    # Register this URL as the redirect URL of every account's Kite Connect app.
    path("kite/callback/", views.kite_callback, name="kite-callback"),
]

from django.urls import path

from . import views

app_name = "execution"

urlpatterns = [
    path("kite/postback/", views.kite_postback, name="kite-postback"),
]

from django.urls import path

from . import views

app_name = "widget"
urlpatterns = [
    path("chat/<str:key>/", views.chat, name="chat"),
    path("chat/<str:key>/start/", views.start, name="start"),
    path("demo/", views.demo, name="demo"),
]

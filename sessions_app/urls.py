from django.urls import path

from . import views

app_name = "sessions_app"
urlpatterns = [
    path("", views.agent_home, name="home"),
    path("presence/", views.set_presence, name="presence"),
    path("conversations/<int:pk>/accept/", views.accept, name="accept"),
    path("conversations/<int:pk>/reject/", views.reject, name="reject"),
    path("conversations/<int:pk>/pick/", views.pick, name="pick"),
]

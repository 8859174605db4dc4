from django.urls import path

from . import views

app_name = "sessions_app"
urlpatterns = [
    path("", views.agent_home, name="home"),
    path("presence/", views.set_presence, name="presence"),
    *(
        path(f"conversations/<int:pk>/{verb}/", views.work_item_action, {"verb": verb}, name=verb)
        for verb in views.WORK_ITEM_ACTIONS
    ),
]

from django.urls import path

from . import views

app_name = "sessions_app"
urlpatterns = [
    path("", views.agent_home, name="home"),
    path("presence/", views.set_presence, name="presence"),
    path("sessions/open/", views.session_open, name="session_open"),
    path("sessions/home/focus/", views.session_focus, name="focus_home"),
    path("sessions/<int:pk>/focus/", views.session_focus, name="session_focus"),
    path("sessions/<int:pk>/close/", views.session_close, name="session_close"),
    path("sessions/<int:pk>/tabs/", views.session_tab, name="session_tab"),
    path("sessions/<int:pk>/drafts/", views.session_drafts, name="session_drafts"),
    *(
        path(f"conversations/<int:pk>/{verb}/", views.work_item_action, {"verb": verb}, name=verb)
        for verb in views.WORK_ITEM_ACTIONS
    ),
]

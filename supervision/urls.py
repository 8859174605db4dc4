from django.urls import path

from . import conversation_views, views

app_name = "supervision"
urlpatterns = [
    path("", views.supervisor_home, name="home"),
    path("conversations/<int:pk>/", conversation_views.conversation_page, name="conversation"),
    path("conversations/<int:pk>/monitor/", conversation_views.monitor, name="monitor"),
    path("conversations/<int:pk>/join/", conversation_views.join, name="join"),
    path("conversations/<int:pk>/leave/", conversation_views.leave, name="leave"),
    path("conversations/<int:pk>/assign/", conversation_views.assign, name="assign"),
    path("conversations/<int:pk>/transfer/", conversation_views.transfer, name="transfer"),
    path("conversations/<int:pk>/force-close/", conversation_views.force_close, name="force_close"),
]

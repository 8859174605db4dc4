from django.urls import path

from .views import conversation, dashboard

app_name = "supervision"
urlpatterns = [
    path("", dashboard.supervisor_home, name="home"),
    path("conversations/<int:pk>/", conversation.conversation_page, name="conversation"),
    path("conversations/<int:pk>/monitor/", conversation.monitor, name="monitor"),
    path("conversations/<int:pk>/join/", conversation.join, name="join"),
    path("conversations/<int:pk>/leave/", conversation.leave, name="leave"),
    path("conversations/<int:pk>/assign/", conversation.assign, name="assign"),
    path("conversations/<int:pk>/transfer/", conversation.transfer, name="transfer"),
    path("conversations/<int:pk>/force-close/", conversation.force_close, name="force_close"),
]

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from omnichannel.conversations import views as conversation_views

urlpatterns = [
    path("", conversation_views.home, name="home"),
    path("favicon.ico", conversation_views.favicon),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("conversations/", include("omnichannel.conversations.urls")),
    path("kb/", include("omnichannel.knowledge.urls")),
    path("agent/", include("sessions_app.urls")),
    path("supervisor/", include("supervision.urls")),
    path("admin/", admin.site.urls),
    path("", include("omnichannel.widget.urls")),
]

from django.urls import path

from . import views, views_knowledge, views_records

app_name = "sessions_app"
urlpatterns = [
    path("", views.agent_home, name="home"),
    path("presence/", views.set_presence, name="presence"),
    path("work-items/", views.work_items, name="work_items"),
    path("sessions/open/", views.session_open, name="session_open"),
    path("sessions/home/focus/", views.session_focus, name="focus_home"),
    path("sessions/<int:pk>/header/", views.session_header, name="session_header"),
    path("sessions/<int:pk>/focus/", views.session_focus, name="session_focus"),
    path("sessions/<int:pk>/close/", views.session_close, name="session_close"),
    path("sessions/<int:pk>/tabs/", views.session_tab, name="session_tab"),
    path("sessions/<int:pk>/drafts/", views.session_drafts, name="session_drafts"),
    *(
        path(f"conversations/<int:pk>/{verb}/", views.work_item_action, {"verb": verb}, name=verb)
        for verb in views.WORK_ITEM_ACTIONS
    ),
    # records and knowledge (R): application tabs (SES-3, SES-9, REC-1, KB-1)
    path("conversations/<int:pk>/active/", views_records.active_conversation, name="active_conversation"),
    path("conversations/<int:pk>/case/", views_records.case_create, name="case_create"),
    path("conversations/<int:pk>/case/link/", views_records.case_link, name="case_link"),
    path("cases/<int:pk>/", views_records.case_detail, name="case"),
    path("cases/<int:pk>/route/", views_records.case_route, name="case_route"),
    path("contacts/<int:pk>/", views_records.contact_detail, name="contact"),
    path("accounts/<int:pk>/", views_records.account_detail, name="account"),
    path("knowledge/", views_knowledge.knowledge_search, name="knowledge_search"),
    path(
        "conversations/<int:pk>/knowledge/<int:article_pk>/send/",
        views_knowledge.knowledge_send,
        name="knowledge_send",
    ),
]

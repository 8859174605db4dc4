from django.urls import path

from .views import knowledge, records, workspace

app_name = "sessions_app"
urlpatterns = [
    path("", workspace.agent_home, name="home"),
    path("presence/", workspace.set_presence, name="presence"),
    path("work-items/", workspace.work_items, name="work_items"),
    path("sessions/open/", workspace.session_open, name="session_open"),
    path("sessions/home/focus/", workspace.session_focus, name="focus_home"),
    path("sessions/<int:pk>/header/", workspace.session_header, name="session_header"),
    path("sessions/<int:pk>/focus/", workspace.session_focus, name="session_focus"),
    path("sessions/<int:pk>/close/", workspace.session_close, name="session_close"),
    path("sessions/<int:pk>/tabs/", workspace.session_tab, name="session_tab"),
    path("sessions/<int:pk>/drafts/", workspace.session_drafts, name="session_drafts"),
    *(
        path(f"conversations/<int:pk>/{verb}/", workspace.work_item_action, {"verb": verb}, name=verb)
        for verb in workspace.WORK_ITEM_ACTIONS
    ),
    # records and knowledge (R): application tabs (SES-3, SES-9, REC-1, KB-1)
    path("conversations/<int:pk>/active/", records.active_conversation, name="active_conversation"),
    path("conversations/<int:pk>/case/", records.case_create, name="case_create"),
    path("conversations/<int:pk>/case/link/", records.case_link, name="case_link"),
    path("cases/<int:pk>/", records.case_detail, name="case"),
    path("cases/<int:pk>/route/", records.case_route, name="case_route"),
    path("contacts/<int:pk>/", records.contact_detail, name="contact"),
    path("accounts/<int:pk>/", records.account_detail, name="account"),
    path("knowledge/", knowledge.knowledge_search, name="knowledge_search"),
    path(
        "conversations/<int:pk>/knowledge/<int:article_pk>/send/",
        knowledge.knowledge_send,
        name="knowledge_send",
    ),
]

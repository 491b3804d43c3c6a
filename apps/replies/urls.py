from django.urls import path

from . import views

app_name = "replies"
urlpatterns = [
    path("ticket/<int:ticket_id>/", views.ticket_replies_page, name="ticket"),
    path("ticket/<int:ticket_id>/composer/", views.composer, name="composer"),
    path("ticket/<int:ticket_id>/list/", views.reply_list, name="list"),
    path("ticket/<int:ticket_id>/check/", views.composer_check, name="check"),
    path("ticket/<int:ticket_id>/send/", views.reply_send, name="send"),
    path("ticket/<int:ticket_id>/draft/", views.reply_draft, name="draft"),
    path("<int:pk>/", views.reply_detail, name="detail"),
    path("<int:pk>/<slug:action>/", views.reply_action, name="action"),
    path("messages/<int:pk>/hide/", views.message_hide, name="message-hide"),
    path("approvals/", views.approvals, name="approvals"),
    path("approvals/<int:pk>/<slug:decision>/", views.approval_decide, name="decide"),
    path("policies/", views.policy_list, name="policies"),
    path("policies/new/", views.policy_edit, name="policy-new"),
    path("policies/<int:pk>/", views.policy_edit, name="policy-edit"),
    path("policies/terms/new/", views.term_edit, name="term-new"),
    path("policies/terms/<int:pk>/", views.term_edit, name="term-edit"),
    path("policies/terms/<int:pk>/delete/", views.term_delete, name="term-delete"),
    path("policies/training/<int:user_id>/", views.training_set, name="training"),
]

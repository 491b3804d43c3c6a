from django.urls import path

from . import views

app_name = "tickets"
urlpatterns = [
    path("", views.ticket_list, name="list"),
    path("<int:pk>/", views.ticket_detail, name="detail"),
    path("<int:pk>/transition/<slug:name>/", views.ticket_transition, name="transition"),
    path("<int:pk>/notes/", views.ticket_note_add, name="note-add"),
    path("<int:pk>/merge/", views.ticket_merge, name="merge"),
    path("<int:pk>/messages/<int:message_pk>/split/", views.message_split, name="split"),
]

from django.urls import path

from . import views

app_name = "workspace"
urlpatterns = [
    path("presence/<int:ticket_pk>/", views.presence_poll, name="presence"),
    path("presence/<int:ticket_pk>/leave/", views.presence_leave, name="presence-leave"),
    path("tickets/<int:ticket_pk>/canned/", views.canned_pick, name="canned-pick"),
    path("tickets/<int:ticket_pk>/canned/<int:pk>/", views.canned_fill, name="canned-fill"),
    path("canned/", views.canned_list, name="canned-list"),
    path("canned/new/", views.canned_create, name="canned-create"),
    path("canned/<int:pk>/", views.canned_update, name="canned-update"),
    path("canned/<int:pk>/delete/", views.canned_delete, name="canned-delete"),
    path("language/", views.language_switch, name="language"),
]

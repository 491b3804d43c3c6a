from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from .selectors import notification_list_for_user
from .services import notifications_mark_read


@login_required
def notification_list(request):
    items = notification_list_for_user(request.user)
    return TemplateResponse(request, "notifications/list.html", {"items": items})


@login_required
@require_POST
def notification_mark_read(request):
    notifications_mark_read(user=request.user)
    return redirect("notifications:list")

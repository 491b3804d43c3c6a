from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.cache import cache_control


def home(request):
    if request.user.is_authenticated:
        return redirect("tickets:list")
    return redirect("accounts:login")


def healthz(request):
    return JsonResponse({"ok": True})


@login_required
def workflow_help(request):
    from apps.tickets.diagram import workflow_rows

    return TemplateResponse(request, "core/workflow_help.html", {"rows": workflow_rows()})


@login_required
@cache_control(max_age=3600, private=True)
def workflow_svg(request):
    from apps.tickets.diagram import workflow_svg as render

    return HttpResponse(render(), content_type="image/svg+xml")

from django import template

from apps.triage.explain import render_explanation

register = template.Library()


@register.filter
def triage_reasons(explanation) -> dict:
    """`Ticket.triage_explanation` with its reasons as text in the active (the reader's) language."""
    return render_explanation(explanation)

from django import template
from django.utils.html import format_html_join

from apps.workspace import policies

register = template.Library()


@register.filter
def can_manage_canned(user) -> bool:
    return policies.can_manage_canned_replies(user)


@register.simple_tag
def options(bound_field):
    """The <option>s of a choice field, selected as submitted: the queue's filters render on
    every page load, and Django's template-based widgets cost more than the rows they filter."""
    value = bound_field.value()
    selected = "" if value is None else str(value)
    return format_html_join(
        "", '<option value="{}"{}>{}</option>',
        ((str(v), " selected" if str(v) == selected else "", label) for v, label in bound_field.field.choices),
    )

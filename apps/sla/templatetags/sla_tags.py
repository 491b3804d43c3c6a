from django import template

from apps.tickets.templatetags.tickets_tags import humanize_minutes

register = template.Library()


@register.filter
def sla_minutes(minutes):
    """A number of minutes as the SLA chips show it ("45 min", "3h 05m", "2d 4h")."""
    if minutes is None:
        return "—"
    return humanize_minutes(int(minutes))

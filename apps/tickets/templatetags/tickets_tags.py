import functools
import re

from django import template
from django.conf import settings
from django.template.defaultfilters import linebreaksbr
from django.templatetags.static import static
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import conditional_escape, format_html, json_script, urlize
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

register = template.Library()

CHANNEL_ICONS = {
    "x": "ch-x", "facebook": "ch-facebook", "instagram": "ch-instagram", "linkedin": "ch-linkedin",
    "email": "ch-email", "certified_email": "ch-certified", "letter": "ch-letter", "phone": "ch-phone",
    "api": "ch-api",
}


@functools.lru_cache(maxsize=8)
def _sprite_url(static_url: str) -> str:
    # Keyed by STATIC_URL so a settings override gets its own; the path never changes while
    # the process runs, and a page shows a dozen icons or more.
    return static("img/icons.svg")


@register.simple_tag
def icon(name: str, label: str = ""):
    """An icon from the static SVG sprite; decorative unless a label is given."""
    href = f"{_sprite_url(settings.STATIC_URL)}#{name}"
    if label:
        return format_html(
            '<svg class="ico ico-{}" role="img" aria-label="{}"><use href="{}"></use></svg>', name, label, href
        )
    return format_html('<svg class="ico ico-{}" aria-hidden="true"><use href="{}"></use></svg>', name, href)


@register.simple_tag
def channel_icon(kind: str, label: str = ""):
    return format_html('<span class="chan-ico chan-{}" title="{}">{}</span>', kind, label or kind,
                       icon(CHANNEL_ICONS.get(kind, "ch-api"), label or kind))


@register.simple_tag
def channel_badge(channel):
    return format_html(
        '<span class="chan chan-{}">{} <span class="chan-name">{}</span></span>',
        channel.kind, channel_icon(channel.kind, channel.get_kind_display()), channel.name,
    )


def humanize_minutes(minutes: int) -> str:
    if minutes < 60:
        return _("%(n)d min") % {"n": minutes}
    hours, mins = divmod(minutes, 60)
    if hours < 48:
        return _("%(h)dh %(m)02dm") % {"h": hours, "m": mins}
    return _("%(d)dd %(h)dh") % {"d": hours // 24, "h": hours % 24}


def sla_level(seconds_left: float) -> str:
    if seconds_left < 0:
        return "breached"
    if seconds_left < 15 * 60:
        return "critical"
    if seconds_left < 60 * 60:
        return "warning"
    return "ok"


@register.simple_tag
def sla_chip(due, now=None):
    """Time left or overdue; static/js/app.js keeps counting down from data-due."""
    if not due:
        return format_html('<span class="sla sla-none" title="{}">{}</span>', _("No running clock"), "—")
    now = now or timezone.now()
    seconds = (due - now).total_seconds()
    minutes = int(abs(seconds) // 60)
    if seconds < 0:
        text = _("overdue %(t)s") % {"t": humanize_minutes(minutes)}
    else:
        text = _("%(t)s left") % {"t": humanize_minutes(minutes)}
    return format_html(
        '<span class="sla sla-{}" data-due="{}" title="{}">{}</span>',
        sla_level(seconds), due.isoformat(), timezone.localtime(due).strftime("%Y-%m-%d %H:%M"), text,
    )


_NOFOLLOW = 'rel="nofollow"'
_EXTERNAL = 'rel="nofollow" target="_blank" referrerpolicy="no-referrer"'


@register.filter
def safe_text(value):
    """Untrusted text: escaped, line breaks kept, links shown (never followed for previews,
    opened without referrer), no images: nothing in it can load a remote resource."""
    html = urlize(value or "", nofollow=True, autoescape=True)
    # Every rel="nofollow" here was written by urlize: quotes in the text itself are escaped.
    # target=_blank implies noopener in every current browser; no referrer leaks our URLs.
    return linebreaksbr(mark_safe(html.replace(_NOFOLLOW, _EXTERNAL)), autoescape=False)


@register.filter
def web_url(value) -> str:
    """An untrusted link target, kept only if it is plain http(s): never javascript: or data:."""
    url = str(value or "").strip()
    return url if url.lower().startswith(("https://", "http://")) else ""


_MENTION_RE = re.compile(r"(?<![\w@])@([A-Za-z0-9_.\-]{2,150})")


@register.filter
def with_mentions(value, usernames):
    """Escaped note text with the @mentions of people who were notified highlighted."""
    known = {u.username for u in usernames} if usernames else set()
    escaped = str(conditional_escape(value or ""))

    def mark(match):
        name = match.group(1).rstrip(".")
        if name not in known:
            return match.group(0)
        return f'<span class="mention">@{name}</span>{match.group(1)[len(name):]}'

    return linebreaksbr(mark_safe(_MENTION_RE.sub(mark, escaped)), autoescape=False)


@register.filter
def initials(person) -> str:
    """Two letters for an avatar: a user's full name or username, or any name or @handle."""
    full = getattr(person, "get_full_name", None)
    name = (full() if full else "") or getattr(person, "username", "") or str(person or "")
    parts = [p for p in re.split(r"[\W_]+", name) if p]
    return "".join(p[0] for p in parts[:2]).upper() or "?"


@register.filter
def when(value) -> str:
    """A compact local time: "14:05" today, "3 Mar 14:05" this year, "3 Mar 2024" before."""
    if not value:
        return ""
    local = timezone.localtime(value)
    today = timezone.localdate()
    if local.date() == today:
        fmt = "H:i"
    elif local.year == today.year:
        fmt = "j M H:i"
    else:
        fmt = "j M Y"
    return date_format(local, fmt)


@register.filter
def first_line(value, length: int = 160) -> str:
    text = " ".join((value or "").split())
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


@register.simple_tag
def js_strings():
    """Strings the static JavaScript shows, translated here so one catalogue serves both."""
    return json_script(
        {
            "min": _("%(n)d min"),
            "hm": _("%(h)dh %(m)02dm"),
            "dh": _("%(d)dd %(h)dh"),
            "overdue": _("overdue %(t)s"),
            "left": _("%(t)s left"),
            "charsLeft": _("%(n)s characters left"),
            "charsOver": _("%(n)s characters over the limit"),
            "inserted": _("Inserted “%(name)s”."),
            "insertFailed": _("The canned reply could not be loaded. Try again."),
        },
        "ct-strings",
    )

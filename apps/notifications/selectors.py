"""Reads of a user's notices, with the ticket visibility rule applied once, here."""

from django.db.models import Q, QuerySet

from apps.accounts import roles
from apps.tickets.selectors import ticket_visible_qs

from .models import Notification


def notification_qs_for_user(user) -> QuerySet[Notification]:
    """The user's notices, minus those about tickets they may no longer (or never) see."""
    qs = Notification.objects.filter(user=user)
    if roles.is_admin(user):
        return qs
    return qs.filter(Q(ticket__isnull=True) | Q(ticket__in=ticket_visible_qs(user)))


def notification_list_for_user(user, *, limit: int = 100) -> list[Notification]:
    return list(notification_qs_for_user(user).select_related("ticket")[:limit])


def notification_unread_count(user) -> int:
    return notification_qs_for_user(user).filter(read_at__isnull=True).count()

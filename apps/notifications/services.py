from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from apps.tickets import policies as ticket_policies

from .models import Notification


def notification_create(
    *, user, title: str, kind: str, ticket=None, body: str = "", url: str = "",
    dedupe_key: str | None = None, email: bool = False,
) -> Notification | None:
    """Notify one user in the app (and by e-mail after commit).

    None if already notified, or if the user may not see `ticket`: a notice must not reveal a
    ticket (its reference, its title) to someone the visibility rule keeps it from.
    """
    if ticket is not None and not ticket_policies.can_view(ticket, user):
        return None
    if url == "" and ticket is not None:
        url = ticket.get_absolute_url()
    try:
        with transaction.atomic():
            note = Notification.objects.create(
                user=user, ticket=ticket, kind=kind, title=title[:300], body=body, url=url,
                dedupe_key=dedupe_key,
            )
    except IntegrityError:
        return None
    if email and user.email:
        transaction.on_commit(
            lambda: send_mail(title[:200], f"{body}\n\n{url}", None, [user.email], fail_silently=True)
        )
    return note


def notifications_mark_read(*, user, ids: list[int] | None = None) -> int:
    from django.utils import timezone

    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())

"""Who may write, approve, fix and configure replies. Used as django-fsm permissions and by views.

- Anyone who works the ticket (its care team, or the holding department while it is escalated)
  may write a reply; the author alone edits, submits, recalls and revises it.
- Approval is compliance's job in a bank: reviewers and admins approve, team leads do not.
  Four eyes: nobody approves a reply they wrote, whatever their role.
- HR-confidential tickets stay invisible outside HR and admins, in the approval queue too.
- A reply that failed to publish may be retried, confirmed or withdrawn by its author or by
  anyone who works the ticket, since the author may be off shift when the network fails.
- Leads, reviewers and admins configure the approval policies, and mark authors as in training:
  reviewers and admins anyone who writes replies, a lead the members of their own teams. Nobody
  changes their own mark, or an author in training could release themselves from review.
"""

from apps.accounts import roles
from apps.tickets import policies as ticket_policies
from apps.tickets.models import OPEN_STATES, TicketState


def can_compose(ticket, user) -> bool:
    if ticket.state not in OPEN_STATES:
        return False
    if ticket_policies.can_work_care(ticket, user):
        return True
    return ticket.state == TicketState.ESCALATED and ticket_policies.can_work_department(ticket, user)


def can_moderate(ticket, user) -> bool:
    return ticket_policies.can_work_care(ticket, user) or ticket_policies.can_work_department(
        ticket, user
    )


def is_reviewer(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active) and (
        roles.is_admin(user) or roles.has_role(user, roles.REVIEWER)
    )


def can_see_for_review(ticket, user) -> bool:
    """A reviewer sees every reply to approve, except on confidential tickets they may not read."""
    if not is_reviewer(user):
        return False
    return not ticket.confidential or ticket_policies.is_confidential_reader(user)


def can_configure(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active) and (
        roles.is_admin(user) or roles.has_role(user, roles.REVIEWER) or roles.has_role(user, roles.LEAD)
    )


def can_mark_training(actor, author) -> bool:
    if not can_configure(actor) or not author.is_active or author.pk == actor.pk:
        return False
    if roles.is_admin(actor) or roles.has_role(actor, roles.REVIEWER):
        return True
    return author.teams.filter(pk__in=actor.teams.values("pk")).exists()


# --- transition permissions: (reply, user) -> bool ----------------------------------------


def is_author(reply, user) -> bool:
    return reply.author_id == user.pk and can_compose(reply.ticket, user)


def can_review(reply, user) -> bool:
    return reply.author_id != user.pk and can_see_for_review(reply.ticket, user)


def can_handle_failure(reply, user) -> bool:
    if not ticket_policies.can_view(reply.ticket, user) and not roles.is_admin(user):
        return False
    return reply.author_id == user.pk or can_moderate(reply.ticket, user)


def can_withdraw(reply, user) -> bool:
    if reply.state == "publish_failed":
        return can_handle_failure(reply, user)
    return reply.author_id == user.pk


def system_only(reply, user) -> bool:
    """Publishing outcomes are recorded by the outbox worker; no person may fake them."""
    return False

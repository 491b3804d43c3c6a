"""Who may see and act on a ticket. Used as django-fsm permissions and by every selector.

- Agents (and leads) of the owning team act on care states (new, open, pending customer).
- Only members of the holding department act on an escalated ticket.
- Leads can do everything agents can in their team, and assign work to others.
- Confidential (HR) tickets are visible only to members of a confidential department and to
  admins; those members act on them in every state, as the owning team would. They are only
  escalated or transferred to confidential departments and only assigned to people who see them.
"""

from django.db.models import Q

from apps.accounts import roles


def _membership(user) -> tuple[frozenset[int], frozenset[int], frozenset[int], frozenset[int]]:
    """(team ids, department ids, confidential department ids, led team ids), cached per request."""
    cached = getattr(user, "_membership_cache", None)
    if cached is None:
        team_ids = frozenset(user.teams.values_list("pk", flat=True))
        depts = list(user.departments.values_list("pk", "confidential"))
        dept_ids = frozenset(pk for pk, _ in depts)
        conf_ids = frozenset(pk for pk, conf in depts if conf)
        led = team_ids if roles.has_role(user, roles.LEAD) else frozenset()
        cached = (team_ids, dept_ids, conf_ids, led)
        user._membership_cache = cached
    return cached


def forget_membership(user) -> None:
    for attr in ("_membership_cache", "_role_cache"):
        if hasattr(user, attr):
            delattr(user, attr)


def is_confidential_reader(user) -> bool:
    return roles.is_admin(user) or bool(_membership(user)[2])


def can_view(ticket, user) -> bool:
    if not user or not user.is_authenticated or not user.is_active:
        return False
    if roles.is_admin(user):
        return True
    team_ids, dept_ids, conf_ids, _ = _membership(user)
    if ticket.confidential:
        return bool(conf_ids)
    return (
        ticket.team_id in team_ids
        or (ticket.department_id is not None and ticket.department_id in dept_ids)
        or ticket.assignee_id == user.pk
    )


def visible_tickets_q(user) -> Q:
    """The same rule as can_view, as a filter for lists, counts and search."""
    if roles.is_admin(user):
        return Q()
    team_ids, dept_ids, conf_ids, _ = _membership(user)
    if conf_ids:
        return Q(confidential=True) | Q(
            Q(team_id__in=team_ids) | Q(department_id__in=dept_ids) | Q(assignee_id=user.pk),
            confidential=False,
        )
    return Q(confidential=False) & (
        Q(team_id__in=team_ids) | Q(department_id__in=dept_ids) | Q(assignee_id=user.pk)
    )


def _is_care_worker(ticket, user) -> bool:
    if ticket.confidential:
        return bool(_membership(user)[2])
    team_ids = _membership(user)[0]
    return ticket.team_id in team_ids and (
        roles.has_role(user, roles.AGENT) or roles.has_role(user, roles.LEAD)
    )


def can_work_care(ticket, user) -> bool:
    if not can_view(ticket, user):
        return False
    return roles.is_admin(user) or _is_care_worker(ticket, user)


def can_lead_care(ticket, user) -> bool:
    if not can_view(ticket, user):
        return False
    if roles.is_admin(user):
        return True
    if ticket.confidential:
        return bool(_membership(user)[2])
    return ticket.team_id in _membership(user)[3]


def can_work_department(ticket, user) -> bool:
    if not can_view(ticket, user):
        return False
    if roles.is_admin(user):
        return True
    return ticket.department_id is not None and ticket.department_id in _membership(user)[1]


def system_only(ticket, user) -> bool:
    """Transitions the system takes on the customer's behalf (ingest); no person may."""
    return False


def is_unassigned(ticket) -> bool:
    return ticket.assignee_id is None


def is_assigned(ticket) -> bool:
    return ticket.assignee_id is not None


def department_may_hold(ticket, department) -> bool:
    """A confidential ticket may only go to a confidential department: any other could
    neither see nor act on it, and would hold it with nobody able to hand it back."""
    return department.confidential or not ticket.confidential


def department_has_routes(ticket) -> bool:
    if ticket.department_id is None:
        return False
    routes = ticket.department.routes.all()
    if ticket.confidential:
        routes = routes.filter(confidential=True)
    return routes.exists()

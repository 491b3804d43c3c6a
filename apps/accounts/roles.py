"""Roles are groups with permissions. Row-level rules (team, department) live in tickets.policies."""

from django.utils.translation import gettext_lazy as _

AGENT = "agent"
LEAD = "lead"
REVIEWER = "reviewer"
DEPARTMENT_MEMBER = "department_member"
ADMIN = "admin"

ROLE_LABELS = {
    AGENT: _("Care agent"),
    LEAD: _("Team lead"),
    REVIEWER: _("Compliance reviewer"),
    DEPARTMENT_MEMBER: _("Department member"),
    ADMIN: _("Administrator"),
}

# Model permissions each role gets, as "app_label.codename".
ROLE_PERMISSIONS: dict[str, list[str]] = {
    AGENT: [
        "tickets.view_ticket",
        "tickets.work_ticket",
        "tickets.add_note",
        "tickets.view_note",
        "tickets.log_contact",
    ],
    LEAD: [
        "tickets.view_ticket",
        "tickets.work_ticket",
        "tickets.lead_ticket",
        "tickets.add_note",
        "tickets.view_note",
        "tickets.log_contact",
        "tickets.view_ticketevent",
        # SLA configuration in the admin (apps.sla.admin); clocks and events read-only.
        "sla.view_slapolicy", "sla.add_slapolicy", "sla.change_slapolicy",
        "sla.view_calendar", "sla.change_calendar",
        "sla.view_calendarframe", "sla.add_calendarframe", "sla.change_calendarframe",
        "sla.delete_calendarframe",
        "sla.view_holiday", "sla.add_holiday", "sla.change_holiday", "sla.delete_holiday",
        "sla.view_regulatoryrule", "sla.change_regulatoryrule",
        "sla.view_departmenttarget", "sla.change_departmenttarget",
        "sla.view_slaclock", "sla.view_slaevent",
        # Triage keyword lists, weights and routing rules in the admin (apps.triage.admin).
        "triage.view_keywordrule", "triage.add_keywordrule", "triage.change_keywordrule",
        "triage.delete_keywordrule",
        "triage.view_routingrule", "triage.add_routingrule", "triage.change_routingrule",
        "triage.delete_routingrule",
    ],
    REVIEWER: ["tickets.view_ticket", "tickets.view_note", "tickets.add_note"],
    DEPARTMENT_MEMBER: ["tickets.view_ticket", "tickets.view_note", "tickets.add_note"],
    ADMIN: [],
}


def user_roles(user) -> set[str]:
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_role_cache", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        if user.is_superuser:
            cached.add(ADMIN)
        user._role_cache = cached
    return cached


def has_role(user, role: str) -> bool:
    return role in user_roles(user)


def is_admin(user) -> bool:
    return user.is_authenticated and (user.is_superuser or has_role(user, ADMIN))

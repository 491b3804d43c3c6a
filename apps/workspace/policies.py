"""Who may manage canned replies: leads for the teams they lead, admins for every team."""

from apps.accounts import roles
from apps.accounts.models import Team


def manageable_teams(user):
    """Teams whose canned replies `user` may create, change and delete."""
    if not user.is_authenticated:
        return Team.objects.none()
    if roles.is_admin(user):
        return Team.objects.all()
    if roles.has_role(user, roles.LEAD):
        return Team.objects.filter(members=user)
    return Team.objects.none()


def can_manage_canned_replies(user) -> bool:
    return roles.is_admin(user) or (user.is_authenticated and roles.has_role(user, roles.LEAD))


def can_edit_canned_reply(user, canned) -> bool:
    """Shared replies (no team) belong to every team, so only admins change them."""
    if roles.is_admin(user):
        return True
    if not can_manage_canned_replies(user) or canned.team_id is None:
        return False
    return manageable_teams(user).filter(pk=canned.team_id).exists()

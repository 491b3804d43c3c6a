"""Writes of the agent workspace: canned replies (leads and admins) and the interface language."""

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from apps.accounts import roles
from apps.accounts.models import Team
from apps.core.exceptions import ApplicationError, PermissionRefused

from . import policies
from .models import MAX_BODY, PLACEHOLDER_RE, PLACEHOLDERS, CannedReply


def _check_team(actor, team: Team | None) -> None:
    if team is None:
        if not roles.is_admin(actor):
            raise PermissionRefused(_("Only administrators manage replies shared by every team."))
    elif not policies.manageable_teams(actor).filter(pk=team.pk).exists():
        raise PermissionRefused(_("You do not lead %(team)s.") % {"team": team})


@transaction.atomic
def canned_reply_save(
    *, actor, name: str, body: str, language: str, team: Team | None, is_active: bool = True,
    canned: CannedReply | None = None,
) -> CannedReply:
    """Create a canned reply, or change `canned`; the actor must lead its team (old and new)."""
    if canned is not None and not policies.can_edit_canned_reply(actor, canned):
        raise PermissionRefused(_("You cannot change this canned reply."))
    _check_team(actor, team)
    name, body = name.strip(), body.strip()
    if not name or not body:
        raise ApplicationError(_("A canned reply needs a name and a text."))
    if len(body) > MAX_BODY:
        raise ApplicationError(_("Keep it under %(max)s characters.") % {"max": MAX_BODY})
    if language not in {code for code, _name in settings.LANGUAGES}:
        raise ApplicationError(_("Choose one of the interface languages."))
    unknown = set(PLACEHOLDER_RE.findall(body)) - set(PLACEHOLDERS)
    if unknown:
        raise ApplicationError(_("Unknown placeholder: %(names)s.") % {"names": ", ".join(sorted(unknown))})
    if canned is None:
        canned = CannedReply(created_by=actor)
    canned.name, canned.body, canned.language = name[:120], body, language
    canned.team, canned.is_active, canned.updated_by = team, is_active, actor
    canned.save()
    return canned


def canned_reply_delete(*, actor, canned: CannedReply) -> None:
    """Delete a canned reply; replies already sent keep their text, so nothing else changes."""
    if not policies.can_edit_canned_reply(actor, canned):
        raise PermissionRefused(_("You cannot delete this canned reply."))
    canned.delete()


def user_language_set(*, user, language: str) -> None:
    """Save the interface language as the user's preference, so every later request uses it."""
    if language not in {code for code, _name in settings.LANGUAGES}:
        raise ApplicationError(_("That language is not available."))
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])

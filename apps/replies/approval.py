"""Which approval policies a reply triggers, and why, in words the author and reviewer read.

Watch-list terms apply to replies on tickets in their language and to every ticket when their
language is "any"; while a ticket's language is unknown every term applies, because a missed
promise costs a bank more than a needless review.
"""

import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

from apps.tickets.models import Intent, Priority, TicketState

MAX_MATCHES_SHOWN = 5


def compile_term(pattern: str, *, is_regex: bool) -> re.Pattern:
    """The compiled form of a watch term; ValueError with a readable message when invalid."""
    pattern = (pattern or "").strip()
    if not pattern:
        raise ValueError(_("The pattern is empty."))
    if is_regex:
        try:
            return re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(_("Not a valid regular expression: %(err)s") % {"err": exc})
    words = r"\s+".join(re.escape(w) for w in pattern.split())
    return re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE)


@dataclass(frozen=True)
class TermMatch:
    text: str
    language: str
    note: str


def watch_list_matches(body: str, terms, *, language: str) -> list[TermMatch]:
    """The active terms found in `body` for a ticket in `language`, first occurrence each."""
    found = []
    for term in terms:
        if not term.is_active:
            continue
        if term.language != "any" and language and term.language != language:
            continue
        try:
            regex = compile_term(term.pattern, is_regex=term.is_regex)
        except ValueError:
            continue
        m = regex.search(body)
        if m:
            found.append(TermMatch(text=m.group(0), language=term.language, note=term.note))
    return found


def _reason(policy, detail: str) -> dict:
    return {
        "policy_id": policy.pk,
        "policy": policy.name,
        "rule": policy.rule,
        "explanation": policy.explanation,
        "detail": detail,
    }


def approval_reasons(*, ticket, author, body: str, is_public: bool, policies, terms) -> list[dict]:
    """One entry per active policy that applies to this reply, in policy order.

    Each entry names the policy, its explanation and what exactly triggered it (the department,
    the intent, the words found), so the author learns before sending why a reviewer must look.
    """
    reasons = []
    terms = list(terms)
    for policy in sorted(policies, key=lambda p: (p.order, p.pk or 0)):
        if not policy.is_active:
            continue
        if policy.scope == "public" and not is_public:
            continue
        rule = policy.rule
        if rule == "escalated" and ticket.state == TicketState.ESCALATED:
            dept = ticket.department.name if ticket.department_id else _("a department")
            reasons.append(_reason(policy, _("The ticket is escalated to %(dept)s.") % {"dept": dept}))
        elif rule == "intent" and ticket.intent in (policy.intents or []):
            label = dict(Intent.choices).get(ticket.intent, ticket.intent)
            reasons.append(_reason(policy, _("The ticket's intent is %(intent)s.") % {"intent": label}))
        elif rule == "urgent" and ticket.priority == Priority.URGENT:
            reasons.append(_reason(policy, _("The ticket's priority is urgent.")))
        elif rule == "watch_list":
            matches = watch_list_matches(body, terms, language=ticket.language)
            if matches:
                shown = matches[:MAX_MATCHES_SHOWN]
                detail = " ".join(f"“{m.text}” ({m.note.rstrip('.')})." for m in shown)
                if len(matches) > len(shown):
                    detail += " " + _("(and %(n)d more)") % {"n": len(matches) - len(shown)}
                entry = _reason(policy, _("The reply says %(found)s") % {"found": detail})
                entry["terms"] = [m.text for m in matches]
                reasons.append(entry)
        elif rule == "in_training" and getattr(author, "in_training", False):
            reasons.append(
                _reason(policy, _("%(author)s is in training.") % {"author": author.display_name})
            )
    return reasons

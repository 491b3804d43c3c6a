"""Triage reasons, stored language-neutral and read in the reader's language.

The classifier runs in a worker (in English); an Italian agent must read the reasons in Italian.
So `Ticket.triage_explanation` stores each reason as an entry, not as text:

    {"msgid": "Detected %(lang)s with %(pct)d%% confidence among %(codes)s.",
     "params": {"lang": {"language": "it"}, "pct": 100, "codes": "it, nl, en"}}

The msgid is the English source string (marked with gettext_noop, so makemessages extracts it);
`render` translates it in the active language when the ticket is shown. A param is a number or a
string (a keyword found, a rule or team name: shown as is), a code to show as its translated
label ({"language": "it"}, {"intent": ...}, {"priority": ...}, {"sentiment": ...},
{"department_kind": ...}, {"number": 120000}), a nested entry, or a list of those (joined with
nothing between them). A whole reason may be a list too. Plain strings (tickets triaged before
reasons were stored this way, or a plugged-in classifier's reasons) are shown as they are.
"""

import contextlib

from django.utils.formats import number_format
from django.utils.translation import get_language_info, gettext

__all__ = ["reason", "render", "render_explanation"]


def reason(msgid: str, capfirst: bool = False, **params) -> dict:
    """An entry: `msgid` (wrapped in gettext_noop by the caller) and its params."""
    entry: dict = {"msgid": msgid}
    if params:
        entry["params"] = params
    if capfirst:
        entry["capfirst"] = True
    return entry


def _language(code):
    try:
        return str(get_language_info(code)["name_translated"])
    except KeyError:
        return str(code)


def _choice(model_choices):
    def label(code):
        try:
            return str(model_choices()(code).label)
        except ValueError:
            return str(code)
    return label


def _intents():
    from apps.tickets.models import Intent
    return Intent


def _priorities():
    from apps.tickets.models import Priority
    return Priority


def _sentiments():
    from apps.tickets.models import Sentiment
    return Sentiment


def _department_kinds():
    from apps.accounts.models import Department
    return Department.Kind


LABELS = {
    "language": _language,
    "intent": _choice(_intents),
    "priority": _choice(_priorities),
    "sentiment": _choice(_sentiments),
    "department_kind": _choice(_department_kinds),
    "number": lambda n: number_format(n, force_grouping=True) if isinstance(n, int | float) else str(n),
}


def _param(value):
    """A param's value for %-formatting: numbers stay numbers (for %d), the rest becomes text."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return value
    return render(value)


def render(value) -> str:
    """One reason (or a part of one) as text in the active language."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return "".join(render(part) for part in value)
    if isinstance(value, dict):
        if isinstance(value.get("msgid"), str):
            msgid = value["msgid"]
            params = value.get("params") or {}
            text = gettext(msgid)
            if isinstance(params, dict) and params:
                values = {name: _param(v) for name, v in params.items()}
                try:
                    text = text % values
                except (KeyError, TypeError, ValueError):  # a translation that lost a placeholder
                    with contextlib.suppress(KeyError, TypeError, ValueError):
                        text = msgid % values
            if value.get("capfirst") and text:
                text = text[0].upper() + text[1:]
            return text
        if len(value) == 1:
            kind, code = next(iter(value.items()))
            if kind in LABELS:
                return LABELS[kind](code)
    return str(value)


def render_explanation(explanation) -> dict:
    """The explanation with every list of reasons as text; other keys (suggested_department) as stored."""
    if not isinstance(explanation, dict):
        return {}
    return {
        key: [render(r) for r in value] if isinstance(value, list) else value
        for key, value in explanation.items()
    }

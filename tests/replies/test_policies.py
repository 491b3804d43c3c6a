"""Each approval policy, as the author sees it before sending, and its configuration pages."""

import pytest

from apps.replies import approval, selectors
from apps.replies.models import ApprovalPolicy, WatchTerm

from .helpers import customer_post

pytestmark = pytest.mark.django_db


def reasons(ticket, author, body="We are looking into it.", *, is_public=True):
    check = selectors.reply_evaluate(ticket=ticket, author=author, body=body, is_public=is_public)
    return [r["rule"] for r in check.reasons], check


def test_defaults_are_shipped():
    assert list(ApprovalPolicy.objects.values_list("rule", flat=True)) == [
        "escalated", "intent", "urgent", "watch_list", "in_training"]
    assert WatchTerm.objects.filter(language="it").exists()
    assert WatchTerm.objects.filter(language="nl").exists()
    assert WatchTerm.objects.filter(language="en").exists()
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="apps.replies.tasks.outbox_requeue_stale")
    assert (task.interval.every, task.interval.period, task.enabled) == (1, "minutes", True)


def test_plain_reply_needs_no_approval(world):
    assert reasons(world.ticket(state="open", language="en"), world.agent)[0] == []


def test_escalated_ticket(world):
    ticket = world.ticket(state="escalated", department=world.risk)
    rules, check = reasons(ticket, world.agent)
    assert rules == ["escalated"]
    assert check.reasons[0]["detail"] == "The ticket is escalated to Risk."
    assert "binding" in check.reasons[0]["explanation"] or "bind" in check.reasons[0]["explanation"]


@pytest.mark.parametrize(("intent", "needed"), [
    ("mis_selling", True), ("reputational_risk", True), ("support_request", False), ("praise", False)])
def test_intent(world, intent, needed):
    rules, check = reasons(world.ticket(state="open", intent=intent), world.agent)
    assert (rules == ["intent"]) is needed
    if needed:
        assert "intent" in check.reasons[0]["detail"]


def test_urgent_priority_is_for_public_replies_only(world):
    ticket = world.ticket(state="open", priority="urgent")
    assert reasons(ticket, world.agent)[0] == ["urgent"]
    assert reasons(ticket, world.agent, is_public=False)[0] == []


@pytest.mark.parametrize(("language", "body", "found"), [
    ("it", "Le garantiamo il rimborso entro venerdì", ["garantiamo", "rimborso"]),
    ("it", "Il tasso resta invariato", ["tasso"]),
    ("it", "Ne parli con il suo avvocato", ["avvocato"]),
    ("it", "Valuteremo un risarcimento", ["risarcimento"]),
    ("nl", "Wij garanderen terugbetaling", ["garanderen", "terugbetaling"]),
    ("nl", "De rente blijft gelijk", ["rente"]),
    ("nl", "Uw advocaat kan contact opnemen", ["advocaat"]),
    ("nl", "U krijgt een schadevergoeding", ["schadevergoeding"]),
    ("en", "We guarantee a full refund", ["guarantee", "refund"]),
    ("en", "Our lawyer will call", ["lawyer"]),
    ("en", "You will receive compensation", ["compensation"]),
    ("en", "We will credit € 50 tomorrow", ["€ 5"]),
    ("en", "The rate is 3.5% now", ["rate", "3.5%"]),
])
def test_watch_list_finds_promises_rates_and_legal_words(world, language, body, found):
    ticket = world.ticket(state="open", language=language)
    rules, check = reasons(ticket, world.agent, body)
    assert rules == ["watch_list"]
    for word in found:
        assert word.lower() in [t.lower() for t in check.reasons[0]["terms"]] or any(
            word.lower() in t.lower() for t in check.reasons[0]["terms"])


def test_watch_list_does_not_fire_on_innocent_words(world):
    ticket = world.ticket(state="open", language="it")
    assert reasons(ticket, world.agent, "Abbiamo verificato il conto corrente, tutto a posto.")[0] == []


def test_watch_terms_are_scoped_to_the_ticket_language(world):
    dutch = world.ticket(state="open", language="nl")
    assert reasons(dutch, world.agent, "Wij garanderen het")[0] == ["watch_list"]
    italian = world.ticket(state="open", language="it")
    assert reasons(italian, world.agent, "Wij garanderen het")[0] == []
    unknown = world.ticket(state="open", language="")
    assert reasons(unknown, world.agent, "Wij garanderen het")[0] == ["watch_list"]


def test_word_terms_match_whole_words_and_regex_terms_are_validated(world):
    term = WatchTerm(language="en", pattern="cash back", note="promo wording")
    term.full_clean()
    term.save()
    ticket = world.ticket(state="open", language="en")
    assert reasons(ticket, world.agent, "You get CASH  BACK today")[0] == ["watch_list"]
    assert reasons(ticket, world.agent, "cashback")[0] == []
    bad = WatchTerm(language="en", pattern="(unclosed", is_regex=True, note="x")
    with pytest.raises(Exception, match="regular expression"):
        bad.full_clean()
    with pytest.raises(ValueError):
        approval.compile_term("  ", is_regex=False)


def test_author_in_training(world):
    world.agent.in_training = True
    world.agent.save()
    rules, check = reasons(world.ticket(state="open"), world.agent)
    assert rules == ["in_training"]
    assert "in training" in check.reasons[0]["detail"]


def test_inactive_policy_does_not_apply(world):
    ApprovalPolicy.objects.filter(rule="escalated").update(is_active=False)
    assert reasons(world.ticket(state="escalated", department=world.legal), world.agent)[0] == []


def test_several_policies_are_listed_in_order(world):
    world.agent.in_training = True
    world.agent.save()
    ticket = world.ticket(state="escalated", department=world.legal, intent="mis_selling",
                          priority="urgent", language="en")
    assert reasons(ticket, world.agent, "We guarantee it")[0] == [
        "escalated", "intent", "urgent", "watch_list", "in_training"]


# --- the composer tells the author before sending -----------------------------------------


def test_composer_check_explains_while_typing(world, client):
    ticket = world.ticket(state="open", language="it")
    customer_post(ticket)
    client.force_login(world.agent)
    url = f"/replies/ticket/{ticket.pk}/check/"
    html = client.post(url, {"body": "Ciao, ci scusiamo", "visibility": "public"},
                       headers={"HX-Request": "true"}).content.decode()
    assert "No approval needed" in html
    assert 'id="reply-send-label" hx-swap-oob="true">Send<' in html
    html = client.post(url, {"body": "Le garantiamo il rimborso", "visibility": "public"},
                       headers={"HX-Request": "true"}).content.decode()
    assert "Needs approval" in html and "Watch list" in html and "garantiamo" in html
    assert "Send for approval" in html
    html = client.post(url, {"body": "Il suo IBAN IT60X0542811101000000123456", "visibility": "public"},
                       headers={"HX-Request": "true"}).content.decode()
    assert "Personal data in a public reply" in html and "IT60 •••• 3456" in html
    html = client.post(url, {"body": "Il suo IBAN IT60X0542811101000000123456", "visibility": "private"},
                       headers={"HX-Request": "true"}).content.decode()
    assert "Personal data" not in html


def test_composer_check_is_refused_to_people_who_cannot_reply(world, client):
    ticket = world.ticket(state="open")
    client.force_login(world.outsider)
    assert client.post(f"/replies/ticket/{ticket.pk}/check/", {"body": "x"}).status_code == 404
    client.force_login(world.agent)
    resolved = world.ticket(state="resolved")
    assert client.post(f"/replies/ticket/{resolved.pk}/check/", {"body": "x"}).status_code == 403


# --- configuring in the browser -----------------------------------------------------------


def test_policy_pages_are_for_leads_reviewers_and_admins(world, client):
    for user, status in ((world.agent, 403), (world.legal_user, 403), (world.lead, 200),
                         (world.compliance_user, 200), (world.admin, 200)):
        client.force_login(user)
        assert client.get("/replies/policies/").status_code == status


def test_lead_creates_and_edits_a_policy(world, client):
    client.force_login(world.lead)
    page = client.get("/replies/policies/").content.decode()
    assert "Escalated tickets" in page and "garant" in page
    response = client.post("/replies/policies/new/", {
        "name": "Complaints in public", "order": 15, "is_active": "on", "rule": "intent",
        "intents": ["emerging_problem"], "scope": "public",
        "explanation": "Emerging problems are watched by the press.",
    })
    assert response.status_code == 302
    policy = ApprovalPolicy.objects.get(name="Complaints in public")
    assert policy.updated_by == world.lead and policy.intents == ["emerging_problem"]
    ticket = world.ticket(state="open", intent="emerging_problem")
    assert reasons(ticket, world.agent)[0] == ["intent"]
    # Switching it off in the browser stops it.
    client.post(f"/replies/policies/{policy.pk}/", {
        "name": policy.name, "order": 15, "rule": "intent", "intents": ["emerging_problem"],
        "scope": "public", "explanation": policy.explanation,
    })
    assert reasons(ticket, world.agent)[0] == []


def test_invalid_policy_and_term_forms_are_400(world, client):
    client.force_login(world.compliance_user)
    response = client.post("/replies/policies/new/", {
        "name": "Intent without intents", "order": 1, "rule": "intent", "scope": "all", "explanation": "x"})
    assert response.status_code == 400
    assert "Choose at least one intent" in response.content.decode()
    response = client.post("/replies/policies/terms/new/", {
        "pattern": "(oops", "is_regex": "on", "language": "en", "note": "x", "is_active": "on"})
    assert response.status_code == 400
    assert "Not a valid regular expression" in response.content.decode()


def test_reviewer_adds_and_deletes_a_watch_term(world, client):
    client.force_login(world.compliance_user)
    response = client.post("/replies/policies/terms/new/", {
        "pattern": "zero risk", "language": "en", "note": "No investment is without risk.",
        "is_active": "on"})
    assert response.status_code == 302
    term = WatchTerm.objects.get(pattern="zero risk")
    assert term.updated_by == world.compliance_user
    assert reasons(world.ticket(state="open", language="en"), world.agent, "It is zero risk")[0] == [
        "watch_list"]
    client.post(f"/replies/policies/terms/{term.pk}/delete/")
    assert not WatchTerm.objects.filter(pk=term.pk).exists()
    client.force_login(world.agent)
    assert client.post("/replies/policies/terms/1/delete/").status_code == 403

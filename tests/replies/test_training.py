"""Authors in training are marked from the browser by leads and compliance, and every change to
the approval settings (policies, watch list, training marks), in the pages or the admin, is
audited with what it was before and after."""

import pytest

from apps.replies import services
from apps.replies.models import ApprovalPolicy, Reply, SettingChange, WatchTerm
from tests.factories import UserFactory

from .helpers import customer_post

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


@pytest.fixture
def ticket(world):
    ticket = world.ticket(state="open", subject="Card blocked", language="en")
    customer_post(ticket)
    return ticket


def test_lead_marks_a_team_member_in_training_and_the_composer_says_so(world, client, ticket):
    client.force_login(world.lead)
    page = client.get("/replies/policies/").content.decode()
    assert 'id="training"' in page and f'id="training-{world.agent.pk}"' in page
    assert f'action="/replies/policies/training/{world.agent.pk}/"' in page
    assert "Mark as in training" in page

    response = client.post(f"/replies/policies/training/{world.agent.pk}/",
                           {"in_training": "1", "reason": "Started on Monday"}, headers=HX)
    assert response.status_code == 200
    row = response.content.decode()
    assert row.lstrip().startswith(f'<tr id="training-{world.agent.pk}"')
    assert "in training" in row and "End training" in row and "Started on Monday" not in row
    world.agent.refresh_from_db()
    assert world.agent.in_training
    change = SettingChange.objects.get(subject="training", object_id=world.agent.pk)
    assert change.actor == world.lead and change.action == "changed"
    assert (change.before, change.after, change.reason) == (
        {"in_training": False}, {"in_training": True}, "Started on Monday")

    # The author is told before sending, and the reply then waits for a reviewer.
    client.force_login(world.agent)
    composer = client.get(f"/replies/ticket/{ticket.pk}/").content.decode()
    assert "Needs approval" in composer and "is in training" in composer
    reply = services.reply_send(ticket=ticket, author=world.agent, body="We are on it.", is_public=True)
    assert reply.state == "awaiting_approval"
    assert [r["rule"] for r in reply.approval_reasons] == ["in_training"]


def test_compliance_marks_anyone_without_javascript_and_ends_training(world, client):
    client.force_login(world.compliance_user)
    assert f'id="training-{world.legal_user.pk}"' in client.get("/replies/policies/").content.decode()
    response = client.post(f"/replies/policies/training/{world.legal_user.pk}/", {"in_training": "1"})
    assert response.status_code == 302 and response["Location"] == "/replies/policies/#training"
    world.legal_user.refresh_from_db()
    assert world.legal_user.in_training
    client.post(f"/replies/policies/training/{world.legal_user.pk}/", {"in_training": "0"})
    world.legal_user.refresh_from_db()
    assert not world.legal_user.in_training
    assert list(SettingChange.objects.filter(subject="training").values_list("after", flat=True)) == [
        {"in_training": False}, {"in_training": True}]  # newest first
    # Setting the value it already has changes and audits nothing.
    client.post(f"/replies/policies/training/{world.legal_user.pk}/", {"in_training": "0"})
    assert SettingChange.objects.filter(subject="training").count() == 2
    history = client.get("/replies/policies/").content.decode()
    assert 'id="setting-changes"' in history and "Author in training" in history


def test_training_marks_are_permission_checked(world, client):
    url = f"/replies/policies/training/{world.agent.pk}/"
    client.force_login(world.agent2)  # an agent configures nothing
    assert client.get("/replies/policies/").status_code == 403
    assert client.post(url, {"in_training": "1"}, headers=HX).status_code == 403
    client.force_login(world.other_lead)  # a lead of another team does not see our agents
    assert f'id="training-{world.agent.pk}"' not in client.get("/replies/policies/").content.decode()
    assert client.post(url, {"in_training": "1"}, headers=HX).status_code == 404
    world.lead.in_training = True
    world.lead.save()
    client.force_login(world.lead)  # nobody releases themselves from review
    own = client.post(f"/replies/policies/training/{world.lead.pk}/", {"in_training": "0"}, headers=HX)
    assert own.status_code == 403 and "their own training mark" in own.content.decode()
    page = client.get("/replies/policies/").content.decode()
    assert f'action="/replies/policies/training/{world.lead.pk}/"' not in page
    world.agent.refresh_from_db()
    world.lead.refresh_from_db()
    assert not world.agent.in_training and world.lead.in_training
    assert not SettingChange.objects.exists()


def test_training_endpoint_refuses_bad_input_with_4xx_and_stores_nothing(world, client):
    client.force_login(world.lead)
    url = f"/replies/policies/training/{world.agent.pk}/"
    assert client.get(url).status_code == 405
    assert client.post(url, {}, headers=HX).status_code == 400
    assert client.post(url, {"in_training": "maybe"}, headers=HX).status_code == 400
    assert client.post(url, {"in_training": "1", "reason": "x" * 3000}, headers=HX).status_code == 400
    no_js = client.post(url, {"in_training": "yes"})
    assert no_js.status_code == 400 and "Choose in training or not" in no_js.content.decode()
    assert client.post("/replies/policies/training/999999/", {"in_training": "1"}).status_code == 404
    assert client.post(f"/replies/policies/training/{'9' * 30}/", {"in_training": "1"}).status_code == 404
    assert client.post("/replies/policies/training/abc/", {"in_training": "1"}).status_code == 404
    inactive = UserFactory(username="gone", role="agent", is_active=False)
    inactive.teams.set([world.care])
    assert client.post(f"/replies/policies/training/{inactive.pk}/", {"in_training": "1"}).status_code == 404
    world.agent.refresh_from_db()
    assert not world.agent.in_training and not SettingChange.objects.exists()


def test_policy_and_watch_list_changes_in_the_pages_are_audited(world, client):
    client.force_login(world.lead)
    policy = ApprovalPolicy.objects.get(rule="urgent")
    client.post(f"/replies/policies/{policy.pk}/", {
        "name": policy.name, "order": policy.order, "rule": "urgent", "scope": "all",
        "explanation": policy.explanation, "is_active": "on"})
    change = SettingChange.objects.get(subject="policy")
    assert change.actor == world.lead and change.object_id == policy.pk
    assert [c[0] for c in change.changes()] == ["scope"]
    assert change.before["scope"] == "public" and change.after["scope"] == "all"
    client.force_login(world.compliance_user)
    client.post("/replies/policies/terms/new/", {"pattern": "fully insured", "language": "en",
                                                 "note": "A promise.", "is_active": "on"})
    term = WatchTerm.objects.get(pattern="fully insured")
    client.post(f"/replies/policies/terms/{term.pk}/delete/")
    created, deleted = SettingChange.objects.filter(subject="watch_term").order_by("pk")
    assert created.action == "created" and created.before == {} and created.after["pattern"] == "fully insured"
    assert deleted.action == "deleted" and deleted.before["note"] == "A promise." and deleted.after == {}
    assert deleted.actor == world.compliance_user
    page = client.get("/replies/policies/").content.decode()
    assert "fully insured" in page and "deleted" in page
    with pytest.raises(PermissionError):
        SettingChange.objects.all().delete()
    with pytest.raises(PermissionError):
        deleted.save()


def test_changes_in_the_django_admin_are_audited_too(world, client):
    client.force_login(world.admin)
    term = WatchTerm.objects.create(pattern="no risk", language="en", note="A promise.")
    response = client.post(f"/admin/replies/watchterm/{term.pk}/change/", {
        "pattern": "no risk at all", "language": "en", "note": "A promise.", "is_active": "on"})
    assert response.status_code == 302
    response = client.post(f"/admin/replies/watchterm/{term.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not WatchTerm.objects.filter(pk=term.pk).exists()
    policy = ApprovalPolicy.objects.get(rule="urgent")
    client.post("/admin/replies/approvalpolicy/", {
        "action": "delete_selected", "_selected_action": [policy.pk], "post": "yes"})
    assert not ApprovalPolicy.objects.filter(pk=policy.pk).exists()
    assert list(SettingChange.objects.order_by("pk").values_list("subject", "action", "actor")) == [
        ("watch_term", "changed", world.admin.pk), ("watch_term", "deleted", world.admin.pk),
        ("policy", "deleted", world.admin.pk)]


def test_the_training_mark_counts_at_once_and_waiting_replies_keep_their_reasons(world, ticket):
    services.author_training_set(author=world.agent, in_training=True, actor=world.lead)
    reply = services.reply_send(ticket=ticket, author=world.agent, body="On it.", is_public=True)
    services.author_training_set(author=world.agent, in_training=False, actor=world.compliance_user)
    assert Reply.objects.get(pk=reply.pk).state == "awaiting_approval"

"""Every reply transition, who may take it, four eyes, edit-with-diff, and the audit trail."""

import pytest
from django_fsm import TransitionNotAllowed

from apps.accounts import roles
from apps.core.exceptions import ApplicationError, PermissionRefused, StaleObject
from apps.notifications.models import Notification
from apps.replies import selectors, services
from apps.replies.models import Outbox, Reply, ReplyEvent, ReplyVersion
from apps.tickets.models import TicketEvent
from tests.factories import UserFactory

from .helpers import customer_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(world):
    ticket = world.ticket(state="open", subject="Charged twice", language="en")
    customer_post(ticket)
    return ticket


@pytest.fixture
def escalated(world):
    ticket = world.ticket(state="escalated", department=world.legal, subject="Mis-sold policy",
                          language="en")
    customer_post(ticket, external_id="t-200")
    return ticket


def draft(ticket, user, body="Hello, we are looking into it.", **kw):
    kw.setdefault("is_public", True)
    return services.reply_create(ticket=ticket, author=user, body=body, **kw)


def states(reply):
    return list(ReplyEvent.objects.filter(reply=reply).values_list("transition", "to_state"))


# --- no approval needed -------------------------------------------------------------------


def test_reply_without_approval_goes_straight_to_the_outbox(world, ticket, django_capture_on_commit_callbacks):
    reply = draft(ticket, world.agent)
    assert reply.state == "draft"
    assert reply.delivery == "public_reply" and reply.in_reply_to.external_id == "t-100"
    with django_capture_on_commit_callbacks(execute=True):
        reply = services.reply_submit(reply=reply, actor=world.agent)
    reply.refresh_from_db()
    # The demo channel is a sandbox: the outbox recorded the request instead of sending it.
    assert reply.state == "published"
    assert reply.outbox.status == Outbox.Status.SENT
    assert [t for t, _ in states(reply)] == ["create", "send", "publish"]
    ticket_events = TicketEvent.objects.filter(ticket=ticket, kind="reply")
    assert [e.transition for e in ticket_events] == ["reply_create", "reply_send", "reply_publish"]
    assert all(e.data["reply_id"] == reply.pk for e in ticket_events)


def test_state_field_is_protected(world, ticket):
    reply = draft(ticket, world.agent)
    with pytest.raises(AttributeError):
        reply.state = "published"


def test_only_people_who_work_the_ticket_may_write(world, ticket):
    for user in (world.outsider, world.compliance_user, world.legal_user):
        with pytest.raises(PermissionRefused):
            draft(ticket, user)
    draft(ticket, world.lead)
    draft(ticket, world.admin)


def test_department_members_may_write_on_tickets_escalated_to_them(world, escalated):
    reply = draft(escalated, world.legal_user)
    assert reply.author == world.legal_user
    with pytest.raises(PermissionRefused):
        draft(escalated, world.compliance_user)


def test_no_replies_on_closed_tickets(world):
    closed = world.ticket(state="closed")
    customer_post(closed)
    with pytest.raises(PermissionRefused):
        draft(closed, world.agent)


def test_empty_and_oversized_replies_are_refused(world, ticket):
    with pytest.raises(ApplicationError, match="empty"):
        draft(ticket, world.agent, body="   ")
    with pytest.raises(ApplicationError, match="too long"):
        draft(ticket, world.agent, body="x" * 10_001)
    reply = draft(ticket, world.agent, body="x" * 281)
    with pytest.raises(ApplicationError, match="280"):
        services.reply_submit(reply=reply, actor=world.agent)


def test_only_the_author_submits(world, ticket):
    reply = draft(ticket, world.agent)
    with pytest.raises(PermissionRefused):
        services.reply_submit(reply=reply, actor=world.agent2)


# --- approval path ------------------------------------------------------------------------


def test_escalated_ticket_reply_waits_for_approval_and_reviewers_are_told(world, escalated):
    reply = draft(escalated, world.agent)
    reply = services.reply_submit(reply=reply, actor=world.agent)
    assert reply.state == "awaiting_approval"
    assert reply.submitted_at is not None
    assert [r["rule"] for r in reply.approval_reasons] == ["escalated"]
    assert "Legal" in reply.approval_reasons[0]["detail"]
    assert not Outbox.objects.filter(reply=reply).exists()
    assert Notification.objects.filter(user=world.compliance_user, kind="approval_requested").exists()
    assert not Notification.objects.filter(user=world.agent, kind="approval_requested").exists()


def test_every_reviewer_is_asked_not_only_the_first(world, escalated):
    second = UserFactory(username="compliance2", role=roles.REVIEWER)
    second.departments.set([world.compliance])
    services.reply_submit(reply=draft(escalated, world.agent), actor=world.agent)
    asked = {n.user for n in Notification.objects.filter(kind="approval_requested")}
    assert asked == {world.compliance_user, second}


def test_approve_queues_in_the_same_transaction(world, escalated, django_capture_on_commit_callbacks):
    reply = services.reply_submit(reply=draft(escalated, world.agent), actor=world.agent)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        reply = services.reply_approve(reply=reply, reviewer=world.compliance_user,
                                       expected_version=reply.version)
    assert reply.state == "queued"
    assert Outbox.objects.get(reply=reply).status == Outbox.Status.PENDING
    assert len(callbacks) == 1  # outbox_publish, queued on commit
    reply.refresh_from_db()
    assert reply.reviewer == world.compliance_user and reply.reviewed_at
    assert [t for t, _ in states(reply)] == ["create", "submit", "approve", "enqueue"]
    assert Notification.objects.filter(user=world.agent, kind="reply_approved").exists()


@pytest.mark.parametrize("who", ["agent2", "lead", "legal_user", "outsider"])
def test_only_reviewers_and_admins_approve(world, escalated, who):
    reply = services.reply_submit(reply=draft(escalated, world.agent), actor=world.agent)
    with pytest.raises(PermissionRefused):
        services.reply_approve(reply=reply, reviewer=getattr(world, who))
    with pytest.raises(PermissionRefused):
        services.reply_reject(reply=reply, reviewer=getattr(world, who), reason="no")


def test_admin_may_approve(world, escalated):
    reply = services.reply_submit(reply=draft(escalated, world.agent), actor=world.agent)
    assert services.reply_approve(reply=reply, reviewer=world.admin).state == "queued"


def test_four_eyes_nobody_approves_their_own_reply(world, escalated):
    # A reviewer who also works the ticket writes a reply: another reviewer must approve it.
    world.compliance_user.teams.add(world.care)
    world.compliance_user.groups.add(*world.agent.groups.all())
    reviewer = type(world.compliance_user).objects.get(pk=world.compliance_user.pk)
    reply = services.reply_submit(reply=draft(escalated, reviewer), actor=reviewer)
    with pytest.raises(PermissionRefused, match="Four eyes"):
        services.reply_approve(reply=reply, reviewer=reviewer)
    with pytest.raises(PermissionRefused, match="Four eyes"):
        services.reply_reject(reply=reply, reviewer=reviewer, reason="mine")
    admin_reply = services.reply_submit(reply=draft(escalated, world.admin), actor=world.admin)
    with pytest.raises(PermissionRefused, match="Four eyes"):
        services.reply_approve(reply=admin_reply, reviewer=world.admin)
    assert services.reply_approve(reply=admin_reply, reviewer=reviewer).state == "queued"


def test_the_fsm_permission_refuses_the_author_too(world, escalated):
    reply = services.reply_submit(reply=draft(escalated, world.agent), actor=world.agent)
    from django_fsm import has_transition_perm

    assert not has_transition_perm(reply.approve, world.agent)
    assert has_transition_perm(reply.approve, world.compliance_user)


def test_reject_needs_a_reason_and_the_author_revises_and_resubmits(world, escalated):
    reply = services.reply_submit(reply=draft(escalated, world.agent), actor=world.agent)
    with pytest.raises(ApplicationError, match="why"):
        services.reply_reject(reply=reply, reviewer=world.compliance_user, reason="  ")
    reply = services.reply_reject(reply=reply, reviewer=world.compliance_user,
                                  reason="Do not promise a date.")
    assert reply.state == "rejected" and reply.rejection_reason == "Do not promise a date."
    assert Notification.objects.filter(user=world.agent, kind="reply_rejected").exists()
    # The composer offers the rejected reply back to its author, with the reason.
    assert selectors.current_draft(escalated, world.agent) == reply
    reply = services.reply_update(reply=reply, author=world.agent, body="We are looking into it.",
                                  is_public=True, wait_for_customer=False)
    assert reply.state == "draft"
    reply = services.reply_submit(reply=reply, actor=world.agent)
    assert reply.state == "awaiting_approval"
    assert reply.rejection_reason == "" and reply.reviewer is None
    assert [t for t, _ in states(reply)] == ["create", "submit", "reject", "revise", "submit"]
    assert list(reply.versions.values_list("number", "role")) == [(1, "author"), (2, "author")]


def test_recall_takes_a_reply_back_to_draft(world, escalated):
    reply = services.reply_submit(reply=draft(escalated, world.agent), actor=world.agent)
    with pytest.raises(PermissionRefused):
        services.reply_recall(reply=reply, actor=world.agent2)
    reply = services.reply_recall(reply=reply, actor=world.agent)
    assert reply.state == "draft"
    with pytest.raises(ApplicationError):
        services.reply_approve(reply=reply, reviewer=world.compliance_user)


def test_withdraw_from_draft_and_rejected_but_not_from_approval(world, escalated):
    first = draft(escalated, world.agent)
    with pytest.raises(PermissionRefused):
        services.reply_withdraw(reply=first, actor=world.agent2)
    assert services.reply_withdraw(reply=first, actor=world.agent).state == "withdrawn"
    second = services.reply_submit(reply=draft(escalated, world.agent), actor=world.agent)
    with pytest.raises(ApplicationError):
        services.reply_withdraw(reply=second, actor=world.agent)
    services.reply_reject(reply=second, reviewer=world.compliance_user, reason="No.")
    assert services.reply_withdraw(reply=second, actor=world.agent, reason="obsolete").state == "withdrawn"


def test_stale_approval_form_is_refused(world, escalated):
    reply = services.reply_submit(reply=draft(escalated, world.agent), actor=world.agent)
    seen = reply.version
    services.reply_recall(reply=reply, actor=world.agent)
    services.reply_submit(reply=Reply.objects.get(pk=reply.pk), actor=world.agent)
    with pytest.raises(StaleObject):
        services.reply_approve(reply=reply, reviewer=world.compliance_user, expected_version=seen)


def test_concurrent_transition_on_a_stale_object_is_refused(world, escalated):
    reply = services.reply_submit(reply=draft(escalated, world.agent), actor=world.agent)
    stale = Reply.objects.get(pk=reply.pk)
    services.reply_recall(reply=reply, actor=world.agent)
    stale.reject(reviewer=world.compliance_user, at=stale.submitted_at, rejection_reason="x")
    from django_fsm import ConcurrentTransition

    with pytest.raises(ConcurrentTransition):
        stale.save()


def test_system_transitions_are_not_for_people(world, escalated):
    reply = services.reply_submit(reply=draft(escalated, world.agent), actor=world.agent)
    services.reply_approve(reply=reply, reviewer=world.compliance_user)
    reply = Reply.objects.get(pk=reply.pk)
    from django_fsm import has_transition_perm

    for user in (world.agent, world.admin, world.compliance_user):
        assert not has_transition_perm(reply.publish, user)
        assert not has_transition_perm(reply.fail, user)
    with pytest.raises(TransitionNotAllowed):
        reply.approve(reviewer=world.admin, at=None)


# --- edit and approve ---------------------------------------------------------------------


def test_edit_and_approve_stores_a_version_and_the_author_sees_the_diff(world, escalated):
    reply = services.reply_submit(
        reply=draft(escalated, world.agent, body="We guarantee a refund by Friday."), actor=world.agent
    )
    reply = services.reply_approve(
        reply=reply, reviewer=world.compliance_user, expected_version=reply.version,
        body="We are reviewing your case and will update you by Friday.",
    )
    assert reply.body == "We are reviewing your case and will update you by Friday."
    versions = list(ReplyVersion.objects.filter(reply=reply))
    assert [(v.number, v.role, v.edited_by) for v in versions] == [
        (1, "author", world.agent), (2, "reviewer", world.compliance_user)]
    items = selectors.ticket_replies(escalated, world.agent)
    assert items[0].author_text == "We guarantee a refund by Friday."
    ops = [(p.op, p.text) for p in items[0].diff]
    assert ("del", "guarantee a refund") in ops or ("del", "guarantee") in ops
    assert any(op == "ins" and "reviewing" in text for op, text in ops)
    # The audit keeps both texts, append-only.
    event = TicketEvent.objects.get(ticket=escalated, transition="reply_approve")
    assert event.data["author_text"] == "We guarantee a refund by Friday."
    assert event.data["approved_text"].startswith("We are reviewing")
    assert Notification.objects.get(user=world.agent, kind="reply_approved").title.count("edited")


def test_approving_without_changes_keeps_one_version(world, escalated):
    reply = services.reply_submit(reply=draft(escalated, world.agent), actor=world.agent)
    services.reply_approve(reply=reply, reviewer=world.compliance_user, body=reply.body)
    assert ReplyVersion.objects.filter(reply=reply).count() == 1
    assert selectors.ticket_replies(escalated, world.agent)[0].diff is None


def test_reviewer_edit_is_guarded_too(world, escalated):
    reply = services.reply_submit(reply=draft(escalated, world.agent), actor=world.agent)
    with pytest.raises(services.PersonalDataInPublicReply, match="IBAN"):
        services.reply_approve(reply=reply, reviewer=world.compliance_user,
                               body="Pay to IT60 X054 2811 1010 0000 0123 456")
    assert Reply.objects.get(pk=reply.pk).state == "awaiting_approval"


def test_diff_is_escaped_in_the_page(world, escalated, client):
    reply = services.reply_submit(reply=draft(escalated, world.agent, body="Hello <b>there</b>"),
                                  actor=world.agent)
    services.reply_approve(reply=reply, reviewer=world.compliance_user, body="Hello <script>x</script>")
    client.force_login(world.agent)
    html = client.get(f"/replies/ticket/{escalated.pk}/").content.decode()
    assert "<script>x" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert "<del>" in html and "<ins>" in html


# --- the public-reply guard in the workflow ----------------------------------------------


def test_public_reply_with_personal_data_is_refused_and_can_go_private(world, ticket):
    reply = draft(ticket, world.agent, body="Your card 4111 1111 1111 1111 was blocked.")
    with pytest.raises(services.PersonalDataInPublicReply) as exc:
        services.reply_submit(reply=reply, actor=world.agent)
    assert "payment card number •••• 1111" in exc.value.message
    assert "privately" in exc.value.message
    assert exc.value.status_code == 422
    assert Reply.objects.get(pk=reply.pk).state == "draft"
    # Switching to private (an X direct message) makes it acceptable.
    reply = services.reply_update(reply=reply, author=world.agent, body=reply.body, is_public=False,
                                  wait_for_customer=False)
    assert reply.delivery == "direct_message" and not reply.is_public
    assert reply.recipient == reply.in_reply_to.author_identity.external_id
    assert services.reply_submit(reply=reply, actor=world.agent).state == "queued"


def test_send_in_one_step_keeps_nothing_when_refused(world, ticket):
    with pytest.raises(services.PersonalDataInPublicReply):
        services.reply_send(ticket=ticket, author=world.agent, is_public=True,
                            body="Mail me at mario.rossi@example.com")
    assert not Reply.objects.exists()

"""The composer, the ticket's reply list, the approval queue and the department workspaces."""

from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import timezone

from apps.accounts import roles
from apps.notifications.models import Notification
from apps.replies import selectors, services
from apps.replies.models import Reply
from apps.tickets.models import Note, Ticket
from tests.factories import UserFactory

from .helpers import customer_post

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


@pytest.fixture
def ticket(world):
    ticket = world.ticket(state="open", subject="Card blocked", language="en")
    customer_post(ticket)
    return ticket


def awaiting(world, ticket, body="We are checking your case.", author=None):
    author = author or world.agent
    return services.reply_send(ticket=ticket, author=author, body=body, is_public=True)


# --- composer -----------------------------------------------------------------------------


def test_composer_partial_has_the_contract_the_ticket_page_relies_on(world, ticket):
    request = RequestFactory().get("/")
    request.user = world.agent
    html = render_to_string("replies/_composer.html", selectors.reply_composer_context(ticket, world.agent),
                            request=request)
    assert '<textarea id="reply-body" name="body"' in html and 'data-limit="280"' in html
    assert f'action="/replies/ticket/{ticket.pk}/send/"' in html
    assert f'formaction="/replies/ticket/{ticket.pk}/draft/"' in html
    assert 'hx-trigger="keyup changed delay:500ms"' in html
    assert 'name="visibility" value="public"' in html and "Direct message on X" in html
    assert 'name="wait_for_customer"' in html
    assert 'id="approval-notice"' in html and "No approval needed" in html


def test_composer_explains_approval_on_an_escalated_ticket(world, client):
    escalated = world.ticket(state="escalated", department=world.legal)
    customer_post(escalated, external_id="t-2")
    client.force_login(world.agent)
    page = client.get(f"/replies/ticket/{escalated.pk}/").content.decode()
    assert "Needs approval" in page and "escalated to Legal" in page
    assert "Send for approval" in page
    assert 'name="wait_for_customer"' not in page  # an escalated ticket cannot wait for the customer


def test_composer_is_read_only_for_people_who_may_not_reply(world, client, ticket):
    world.hr_user.teams.add(world.care)  # sees the ticket as a team member without an agent role
    client.force_login(world.hr_user)
    page = client.get(f"/replies/ticket/{ticket.pk}/").content.decode()
    assert 'id="reply-body"' not in page
    assert "care team, or the department holding it, can reply here" in page


def test_send_with_htmx_clears_the_composer_and_signals_the_page(world, client, ticket):
    client.force_login(world.agent)
    response = client.post(f"/replies/ticket/{ticket.pk}/send/",
                           {"body": "Your card works again.", "visibility": "public"}, headers=HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Queued for publishing." in html
    assert "Your card works again." not in html
    assert response["HX-Trigger"] == "repliesChanged, ticketChanged, replySent"
    reply = Reply.objects.get()
    assert reply.state == "queued" and reply.author == world.agent


def test_send_without_javascript_redirects_back(world, client, ticket):
    client.force_login(world.agent)
    response = client.post(f"/replies/ticket/{ticket.pk}/send/", {
        "body": "Your card works again.", "visibility": "public", "next": f"/tickets/{ticket.pk}/"})
    assert response.status_code == 302 and response["Location"] == f"/tickets/{ticket.pk}/"
    response = client.post(f"/replies/ticket/{ticket.pk}/send/", {
        "body": "Fine.", "visibility": "public", "next": "https://evil.example/"})
    assert response["Location"] == f"/replies/ticket/{ticket.pk}/"


def test_personal_data_is_refused_with_an_offer_to_go_private(world, client, ticket):
    client.force_login(world.agent)
    text = "Please call me back on 333 123 4567"
    response = client.post(f"/replies/ticket/{ticket.pk}/send/", {"body": text, "visibility": "public"},
                           headers=HX)
    assert response.status_code == 422
    html = response.content.decode()
    assert "contains personal data: phone number •••• 567" in html
    assert text in html  # nothing typed is lost
    assert "Switch to a private message (Direct message on X)" in html
    assert not Reply.objects.exists()
    response = client.post(f"/replies/ticket/{ticket.pk}/draft/", {
        "body": text, "visibility": "public", "make_private": "1"}, headers=HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Switched to a private message" in html
    assert 'value="private" checked' in html
    draft = Reply.objects.get()
    assert draft.state == "draft" and not draft.is_public and draft.delivery == "direct_message"
    response = client.post(f"/replies/ticket/{ticket.pk}/send/", {
        "body": text, "visibility": "private", "reply": draft.pk}, headers=HX)
    assert response.status_code == 200
    assert Reply.objects.get().state == "queued"


def test_refusal_without_javascript_is_a_422_page(world, client, ticket):
    client.force_login(world.agent)
    response = client.post(f"/replies/ticket/{ticket.pk}/send/",
                           {"body": "IBAN NL91ABNA0417164300", "visibility": "public"})
    assert response.status_code == 422
    assert "NL91 •••• 4300" in response.content.decode()


def test_malformed_input_is_a_clear_4xx(world, client, ticket):
    client.force_login(world.agent)
    assert client.post(f"/replies/ticket/{ticket.pk}/send/", {"body": "", "visibility": "public"},
                       headers=HX).status_code == 400
    assert client.post(f"/replies/ticket/{ticket.pk}/send/", {
        "body": "x", "visibility": "sideways"}, headers=HX).status_code == 400
    assert client.post(f"/replies/ticket/{ticket.pk}/send/", {
        "body": "x", "reply": "999999"}, headers=HX).status_code == 404
    assert client.post(f"/replies/ticket/{ticket.pk}/send/", {
        "body": "x", "in_reply_to": "abc"}, headers=HX).status_code == 400
    assert client.post("/replies/1/explode/").status_code == 404
    assert client.get(f"/replies/ticket/{ticket.pk}/send/").status_code == 405


def _stored():
    from apps.replies.models import Outbox, ReplyEvent, ReplyVersion
    from apps.tickets.models import TicketEvent

    return [m.objects.count() for m in (Reply, ReplyVersion, ReplyEvent, Outbox, Note, TicketEvent)]


def test_refusals_without_javascript_are_4xx_pages_and_store_nothing(world, client, ticket):
    """A plain form POST that is refused answers with the page and a 4xx, not a redirect."""
    escalated = world.ticket(state="escalated", department=world.legal, version=3)
    customer_post(escalated, external_id="t-5")
    reply = awaiting(world, escalated)
    before = _stored()
    client.force_login(world.compliance_user)
    for data, status in [({}, 400), ({"version": "abc"}, 400), ({"version": "9" * 30}, 409),
                         ({"version": reply.version, "edit": "1", "body": "x" * 20_000}, 400),
                         ({"version": reply.version, "edit": "1", "body": "   "}, 400),
                         ({"version": reply.version - 1}, 409)]:
        response = client.post(f"/replies/approvals/{reply.pk}/approve/", data)
        assert response.status_code == status, data
        assert "Replies awaiting approval" in response.content.decode()
    assert client.post(f"/replies/approvals/{reply.pk}/reject/", {"version": reply.version}).status_code == 400
    assert client.post(f"/replies/approvals/{reply.pk}/reject/", {
        "version": reply.version, "reason": "r" * 3000}).status_code == 400
    assert client.post(f"/replies/approvals/{reply.pk}/maybe/", {"version": reply.version}).status_code == 404
    client.force_login(world.agent2)  # not the author: cannot recall
    response = client.post(f"/replies/{reply.pk}/recall/")
    assert response.status_code == 403 and "not allowed" in response.content.decode()
    client.force_login(world.agent)  # the author: nothing failed, so nothing to retry
    assert client.post(f"/replies/{reply.pk}/retry/").status_code == 400
    assert client.post(f"/replies/{reply.pk}/confirm/", {"external_id": "y" * 300}).status_code == 400
    private = customer_post(ticket, external_id="t-6", body="My IBAN", public=False)
    response = client.post(f"/replies/messages/{private.pk}/hide/")  # only public comments hide
    assert response.status_code == 400 and "public comment can be hidden" in response.content.decode()
    client.force_login(world.legal_user)
    response = client.post(f"/departments/legal/tickets/{escalated.pk}/transfer/", {
        "version": escalated.version, "to": world.hr.pk, "reason": "HR matter"})
    assert response.status_code == 400 and "transfer to" in response.content.decode()
    assert client.post(f"/departments/legal/tickets/{escalated.pk}/return/", {"reason": "x"}).status_code == 400
    assert client.post(f"/departments/legal/tickets/{escalated.pk}/return/", {
        "reason": "x", "version": escalated.version - 1}).status_code == 409
    assert client.post(f"/departments/legal/tickets/{escalated.pk}/guidance/",
                       {"body": "g" * 20_000}).status_code == 400
    assert _stored() == before
    assert Reply.objects.get(pk=reply.pk).state == "awaiting_approval"
    escalated.refresh_from_db()
    assert escalated.department == world.legal and escalated.state == "escalated"


def test_configuration_pages_allow_only_get_and_post(world, client):
    client.force_login(world.lead)
    for url in ("/replies/policies/new/", "/replies/policies/terms/new/"):
        assert client.put(url).status_code == 405
        assert client.delete(url).status_code == 405
    assert client.post("/replies/policies/").status_code == 405
    assert client.get("/replies/policies/terms/1/delete/").status_code == 405


def test_draft_is_kept_for_its_author_and_others_see_someone_is_drafting(world, client, ticket):
    client.force_login(world.agent)
    client.post(f"/replies/ticket/{ticket.pk}/draft/", {"body": "Half-written answer", "visibility": "public"})
    assert "Half-written answer" in client.get(f"/replies/ticket/{ticket.pk}/").content.decode()
    client.force_login(world.agent2)
    page = client.get(f"/replies/ticket/{ticket.pk}/").content.decode()
    assert "Half-written answer" not in page
    assert "is drafting a reply on this ticket" in page


def test_reply_list_shows_state_reasons_and_sandbox_request(world, client, ticket, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.reply_send(ticket=ticket, author=world.agent, body="Fixed now.", is_public=True)
    awaiting(world, ticket, body="We guarantee it.")
    client.force_login(world.agent)
    html = client.get(f"/replies/ticket/{ticket.pk}/list/", headers=HX).content.decode()
    assert "Published" in html and "Awaiting approval" in html
    assert "What would have been sent" in html and "/2/tweets" in html
    assert "Watch list" in html and "guarantee" in html
    assert "Recall to edit" in html
    assert client.get(f"/replies/ticket/{ticket.pk}/list/").status_code == 302


def test_recall_from_the_list_reloads_the_composer(world, client, ticket):
    reply = awaiting(world, ticket, body="We guarantee it.")
    client.force_login(world.agent)
    response = client.post(f"/replies/{reply.pk}/recall/", headers=HX)
    assert response.status_code == 200
    assert "replyComposerReload" in response["HX-Trigger"]
    assert Reply.objects.get(pk=reply.pk).state == "draft"
    composer = client.get(f"/replies/ticket/{ticket.pk}/composer/", headers=HX).content.decode()
    assert "We guarantee it." in composer


def test_reply_actions_refuse_strangers(world, client, ticket):
    reply = awaiting(world, ticket, body="We guarantee it.")
    client.force_login(world.agent2)
    response = client.post(f"/replies/{reply.pk}/recall/", headers=HX)
    assert response.status_code == 403
    assert "not allowed" in response.content.decode()
    client.force_login(world.outsider)
    assert client.post(f"/replies/{reply.pk}/recall/").status_code == 404


def test_ticket_replies_selector_does_not_grow_with_the_number_of_replies(
        world, ticket, django_assert_max_num_queries):
    for i in range(3):
        awaiting(world, ticket, body=f"We guarantee answer {i}.")
    with django_assert_max_num_queries(12):
        items = selectors.ticket_replies_context(ticket, world.agent)["reply_items"]
        assert len(items) == 3
    for i in range(5):
        awaiting(world, ticket, body=f"We guarantee more {i}.")
    with django_assert_max_num_queries(12):
        assert len(selectors.ticket_replies_context(ticket, world.agent)["reply_items"]) == 8


# --- approval queue -----------------------------------------------------------------------


def test_queue_is_for_reviewers_and_admins(world, client):
    for user, status in ((world.agent, 403), (world.lead, 403), (world.legal_user, 403),
                         (world.compliance_user, 200), (world.admin, 200)):
        client.force_login(user)
        assert client.get("/replies/approvals/").status_code == status


def test_queue_is_ordered_by_approval_deadline_with_context(world, client):
    now = timezone.now()
    items = []
    for i, due in enumerate([now + timedelta(hours=3), None, now + timedelta(minutes=20)]):
        t = world.ticket(state="escalated", department=world.legal, subject=f"Ticket {i}",
                         intent="mis_selling", priority="high")
        customer_post(t, body=f"Customer complaint {i}", external_id=f"c{i}")
        reply = awaiting(world, t, body=f"Proposed answer {i}")
        Reply.objects.filter(pk=reply.pk).update(approval_due=due)
        items.append(reply)
    client.force_login(world.compliance_user)
    html = client.get("/replies/approvals/").content.decode()
    positions = [html.index(f"Proposed answer {i}") for i in (2, 0, 1)]
    assert positions == sorted(positions)
    assert "Customer complaint 2" in html and "Mis-selling" in html and "High" in html
    assert "escalated to Legal" in html and "Escalated tickets" in html
    assert html.count('data-action="approve"') == 3
    assert 'aria-keyshortcuts="e"' in html and 'aria-keyshortcuts="r"' in html
    assert "3 replies wait for you." in html


def test_queue_query_count_is_flat(world, client, django_assert_max_num_queries):
    def add(n):
        for i in range(n):
            t = world.ticket(state="escalated", department=world.legal)
            customer_post(t, external_id=f"q{Ticket.objects.count()}-{i}")
            awaiting(world, t)

    add(2)
    client.force_login(world.compliance_user)
    client.get("/replies/approvals/")
    with django_assert_max_num_queries(10) as small:
        client.get("/replies/approvals/")
    add(6)
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get("/replies/approvals/")


def test_hr_confidential_replies_stay_invisible_outside_hr_and_admins(world, client):
    hr_ticket = world.ticket(state="escalated", department=world.hr, confidential=True,
                             subject="Complaint about an employee")
    customer_post(hr_ticket, external_id="hr1")
    world.hr_user.teams.add(world.care)
    world.hr_user.groups.add(*world.agent.groups.all())
    hr_author = type(world.hr_user).objects.get(pk=world.hr_user.pk)
    reply = awaiting(world, hr_ticket, author=hr_author, body="We take this seriously.")
    assert reply.state == "awaiting_approval"
    client.force_login(world.compliance_user)
    assert "Complaint about an employee" not in client.get("/replies/approvals/").content.decode()
    assert client.post(f"/replies/approvals/{reply.pk}/approve/", {"version": reply.version}).status_code == 404
    assert client.get(f"/replies/{reply.pk}/").status_code == 404
    assert selectors.approval_queue(world.compliance_user) == []
    client.force_login(world.admin)
    assert "Complaint about an employee" in client.get("/replies/approvals/").content.decode()


def test_confidential_approval_request_reaches_only_people_who_can_open_it(
        world, client, django_capture_on_commit_callbacks):
    hr_ticket = world.ticket(state="escalated", department=world.hr, confidential=True,
                             subject="Complaint about an employee")
    customer_post(hr_ticket, external_id="hr2")
    world.hr_user.teams.add(world.care)
    world.hr_user.groups.add(*world.agent.groups.all())
    hr_author = type(world.hr_user).objects.get(pk=world.hr_user.pk)
    reply = awaiting(world, hr_ticket, author=hr_author, body="We take this seriously.")
    assert reply.state == "awaiting_approval"
    asked = {n.user for n in Notification.objects.filter(kind="approval_requested")}
    # Compliance may not read HR tickets; an admin may, and approves it.
    assert asked == {world.admin}
    for user in asked:
        client.force_login(user)
        (notice,) = Notification.objects.filter(user=user, kind="approval_requested")
        assert "Complaint about an employee" in client.get(notice.url).content.decode()
        assert client.get(f"/replies/{reply.pk}/").status_code == 200
    with django_capture_on_commit_callbacks(execute=False):
        services.reply_approve(reply=reply, reviewer=world.admin)
    assert Reply.objects.get(pk=reply.pk).state == "queued"


def test_confidential_approval_request_reaches_hr_reviewers_too(world):
    hr_reviewer = UserFactory(username="hr-reviewer", role=roles.REVIEWER)
    hr_reviewer.departments.set([world.hr])
    hr_ticket = world.ticket(state="escalated", department=world.hr, confidential=True,
                             subject="Complaint about an employee")
    customer_post(hr_ticket, external_id="hr3")
    reply = awaiting(world, hr_ticket, author=world.admin, body="We take this seriously.")
    assert reply.state == "awaiting_approval"
    # Four eyes: the author (here an admin) is never asked to approve their own reply.
    asked = {n.user for n in Notification.objects.filter(kind="approval_requested")}
    assert asked == {hr_reviewer}


def test_approve_from_the_queue(world, client):
    t = world.ticket(state="escalated", department=world.legal)
    customer_post(t, external_id="a1")
    reply = awaiting(world, t)
    client.force_login(world.compliance_user)
    response = client.post(f"/replies/approvals/{reply.pk}/approve/", {"version": reply.version}, headers=HX)
    assert response.status_code == 200
    assert "Approved: queued for publishing." in response.content.decode()
    assert response["HX-Trigger"] == "approvalDecided"
    assert Reply.objects.get(pk=reply.pk).state == "queued"


def test_edit_and_approve_from_the_queue(world, client):
    t = world.ticket(state="escalated", department=world.legal)
    customer_post(t, external_id="a2")
    reply = awaiting(world, t, body="We will refund you tomorrow.")
    client.force_login(world.compliance_user)
    response = client.post(f"/replies/approvals/{reply.pk}/approve/", {
        "version": reply.version, "edit": "1", "body": "We are reviewing your request."}, headers=HX)
    assert "Edited and approved" in response.content.decode()
    client.force_login(world.agent)
    page = client.get(f"/replies/ticket/{t.pk}/").content.decode()
    assert "edited the text before approving it" in page
    assert "<del>" in page and "refund" in page and "<ins>" in page


def test_reject_needs_a_reason(world, client):
    t = world.ticket(state="escalated", department=world.legal)
    customer_post(t, external_id="a3")
    reply = awaiting(world, t)
    client.force_login(world.compliance_user)
    response = client.post(f"/replies/approvals/{reply.pk}/reject/", {"version": reply.version}, headers=HX)
    assert response.status_code == 400 and "Give a reason" in response.content.decode()
    response = client.post(f"/replies/approvals/{reply.pk}/reject/",
                           {"version": reply.version, "reason": "Too vague."}, headers=HX)
    assert response.status_code == 200 and "Rejected" in response.content.decode()
    client.force_login(world.agent)
    page = client.get(f"/replies/ticket/{t.pk}/").content.decode()
    assert "sent this reply back" in page and "Too vague." in page


def test_stale_decision_is_409(world, client):
    t = world.ticket(state="escalated", department=world.legal)
    customer_post(t, external_id="a4")
    reply = awaiting(world, t)
    client.force_login(world.compliance_user)
    response = client.post(f"/replies/approvals/{reply.pk}/approve/", {"version": reply.version - 1},
                           headers=HX)
    assert response.status_code == 409
    assert "changed by someone else" in response.content.decode()


def test_own_reply_in_the_queue_cannot_be_approved(world, client):
    world.compliance_user.teams.add(world.care)
    world.compliance_user.groups.add(*world.agent.groups.all())
    reviewer = type(world.compliance_user).objects.get(pk=world.compliance_user.pk)
    t = world.ticket(state="escalated", department=world.legal)
    customer_post(t, external_id="a5")
    reply = awaiting(world, t, author=reviewer)
    client.force_login(reviewer)
    html = client.get("/replies/approvals/").content.decode()
    assert "another reviewer must decide (four eyes)" in html
    assert "0 replies wait for you." in html
    response = client.post(f"/replies/approvals/{reply.pk}/approve/", {"version": reply.version}, headers=HX)
    assert response.status_code == 403 and "Four eyes" in response.content.decode()


# --- navigation ---------------------------------------------------------------------------


def test_navigation_links(world, client):
    client.force_login(world.compliance_user)
    page = client.get("/replies/approvals/").content.decode()
    assert 'href="/replies/approvals/"' in page and 'href="/departments/"' in page
    client.force_login(world.legal_user)
    page = client.get("/departments/").content.decode()
    assert 'href="/departments/"' in page and 'href="/replies/approvals/"' not in page
    client.force_login(world.lead)
    page = client.get("/replies/policies/").content.decode()
    assert 'href="/replies/policies/"' in page and 'href="/departments/"' not in page


# --- department workspaces ----------------------------------------------------------------


@pytest.fixture
def legal_queue(world):
    now = timezone.now()
    later = world.ticket(state="escalated", department=world.legal, subject="Later",
                         department_due=now + timedelta(days=2), escalation_reason="Threat to sue")
    sooner = world.ticket(state="escalated", department=world.legal, subject="Sooner",
                          department_due=now + timedelta(hours=2))
    world.ticket(state="escalated", department=world.compliance, subject="Not ours")
    world.ticket(state="open", subject="Still in care")
    return later, sooner


def test_department_list_shows_my_departments(world, client, legal_queue):
    client.force_login(world.legal_user)
    page = client.get("/departments/").content.decode()
    assert "Legal" in page and "2 escalated tickets" in page and "Compliance" not in page
    client.force_login(world.admin)
    page = client.get("/departments/").content.decode()
    assert "Legal" in page and "Compliance" in page and "HR" in page


def test_department_queue_is_ordered_by_its_deadline(world, client, legal_queue):
    client.force_login(world.legal_user)
    page = client.get("/departments/legal/").content.decode()
    assert page.index("Sooner") < page.index("Later")
    assert "Not ours" not in page and "Still in care" not in page
    assert "Threat to sue" in page
    assert 'class="sla sla-' in page
    assert "Compliance" in page  # a route for transfers
    assert client.get("/departments/legal/", headers=HX).content.decode().startswith('\n<div id="dept-queue"')


def test_department_pages_are_for_members_and_admins(world, client, legal_queue):
    client.force_login(world.compliance_user)
    assert client.get("/departments/legal/").status_code == 404
    client.force_login(world.agent)
    assert client.get("/departments/legal/").status_code == 404
    assert client.get("/departments/no-such/").status_code == 404
    client.force_login(world.admin)
    assert client.get("/departments/legal/").status_code == 200


def test_hr_queue_is_confidential(world, client):
    world.ticket(state="escalated", department=world.hr, confidential=True, subject="Employee matter")
    client.force_login(world.hr_user)
    assert "Employee matter" in client.get("/departments/hr/").content.decode()
    client.force_login(world.legal_user)
    assert client.get("/departments/hr/").status_code == 404
    client.force_login(world.admin)
    assert "Employee matter" in client.get("/departments/hr/").content.decode()


def test_member_writes_guidance(world, client, legal_queue):
    later, _ = legal_queue
    Ticket.objects.filter(pk=later.pk).update(assignee=world.agent)
    client.force_login(world.legal_user)
    response = client.post(f"/departments/legal/tickets/{later.pk}/guidance/",
                           {"body": "Do not admit liability."}, headers=HX)
    assert response.status_code == 200 and "Guidance added" in response.content.decode()
    note = Note.objects.get(ticket=later)
    assert note.is_guidance and note.department == world.legal and note.author == world.legal_user
    assert world.agent.notifications.filter(kind="guidance").exists()
    assert Ticket.objects.get(pk=later.pk).state == "escalated"
    response = client.post(f"/departments/legal/tickets/{later.pk}/guidance/", {"body": ""}, headers=HX)
    assert response.status_code == 400


def test_member_transfers_where_routes_allow(world, client, legal_queue):
    later, _ = legal_queue
    client.force_login(world.legal_user)
    response = client.post(f"/departments/legal/tickets/{later.pk}/transfer/", {
        "version": later.version, "to": world.hr.pk, "reason": "HR matter"}, headers=HX)
    assert response.status_code == 400
    assert "transfer to" in response.content.decode()
    response = client.post(f"/departments/legal/tickets/{later.pk}/transfer/", {
        "version": later.version, "to": world.compliance.pk, "reason": "Product issue"}, headers=HX)
    assert response.status_code == 200
    later.refresh_from_db()
    assert later.department == world.compliance and later.state == "escalated"
    # Already gone from Legal: acting again from a stale page is refused.
    response = client.post(f"/departments/legal/tickets/{later.pk}/return/", {
        "version": later.version, "reason": "x"}, headers=HX)
    assert response.status_code in (400, 404)


def test_member_returns_the_ticket_to_care_with_guidance(world, client, legal_queue):
    _, sooner = legal_queue
    client.force_login(world.legal_user)
    response = client.post(f"/departments/legal/tickets/{sooner.pk}/return/", {
        "version": sooner.version + 5, "reason": "Offer a call back"}, headers=HX)
    assert response.status_code == 409
    response = client.post(f"/departments/legal/tickets/{sooner.pk}/return/", {
        "version": sooner.version, "reason": "Offer a call back"})
    assert response.status_code == 302
    sooner.refresh_from_db()
    assert sooner.state == "open" and sooner.department is None
    assert Note.objects.get(ticket=sooner).body == "Offer a call back"


@pytest.mark.parametrize("kind", ["legal", "compliance", "hr", "risk", "complaints_office"])
def test_every_department_kind_has_a_workspace(world, client, kind):
    from tests.factories import DepartmentFactory

    department = DepartmentFactory(name=f"Dept {kind}", slug=f"ws-{kind}", kind=kind,
                                   confidential=kind == "hr")
    member = UserFactory(username=f"member-{kind}", role=roles.DEPARTMENT_MEMBER)
    member.departments.set([department])
    due = timezone.now() + timedelta(hours=5)
    ticket = world.ticket(state="escalated", department=department, subject=f"Case for {kind}",
                          department_due=due, confidential=kind == "hr")
    client.force_login(member)
    assert f"/departments/ws-{kind}/" in client.get("/departments/").content.decode()
    page = client.get(f"/departments/ws-{kind}/").content.decode()
    assert f"Case for {kind}" in page and "Department deadline" in page and f'data-due="{due.isoformat()}' in page
    assert client.post(f"/departments/ws-{kind}/tickets/{ticket.pk}/guidance/",
                       {"body": "Say nothing about the amount."}, headers=HX).status_code == 200
    response = client.post(f"/departments/ws-{kind}/tickets/{ticket.pk}/return/", {
        "version": Ticket.objects.get(pk=ticket.pk).version, "reason": "Offer a call back"}, headers=HX)
    assert response.status_code == 200
    ticket.refresh_from_db()
    assert ticket.state == "open" and ticket.department is None
    assert Note.objects.filter(ticket=ticket, is_guidance=True).count() == 2


def test_departments_that_hold_no_escalations_have_no_workspace(world, client):
    from tests.factories import DepartmentFactory

    marketing = DepartmentFactory(name="Marketing", slug="marketing", kind="marketing")
    member = UserFactory(username="marketer", role=roles.DEPARTMENT_MEMBER)
    member.departments.set([marketing])
    client.force_login(member)
    assert "/departments/marketing/" not in client.get("/departments/").content.decode()
    assert client.get("/departments/marketing/").status_code == 404

"""End to end in Debian's Chromium: draft on an escalated ticket, told it needs approval,
compliance edits and approves, the author sees the diff, the fake network gets one post, and
the ticket's first-response clock is met."""

import os
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from apps.replies.models import ApprovalPolicy, Reply, WatchTerm
from apps.sla.models import SlaClock
from apps.tickets import services as ticket_services
from apps.tickets.models import Customer, Ticket
from tests import factories

from . import fakeplatform

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


@pytest.fixture
def screenshots() -> Path:
    folder = Path(os.environ.get("SCREENSHOT_DIR") or settings.BASE_DIR / "var" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def platform():
    fake = fakeplatform.FakePlatform()
    server = fakeplatform.start(fake)
    yield fake
    fake.stop.set()
    server.shutdown()
    server.server_close()


def in_browser(fn, *, timeout: float = 240) -> None:
    """Run `fn` in a fresh thread and re-raise whatever it raised here."""
    errors: list[BaseException] = []

    def target():
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, name="playwright", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        pytest.fail("the browser session did not finish")
    if errors:
        raise errors[0]


def login(browser, base_url: str, username: str):
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="en-GB")
    page = context.new_page()
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "caretickets")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    return page


@pytest.mark.browser
# Serialized rollback: the default approval policies and roles come from migrations, and an
# earlier transactional test may have flushed them.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_approval_round_trip_in_the_browser(live_server, platform, screenshots):
    # The policies this story relies on, whatever earlier transactional tests left in the database.
    ApprovalPolicy.objects.get_or_create(name="Escalated tickets", defaults={
        "order": 10, "rule": "escalated", "scope": "all",
        "explanation": "A department holds this ticket; compliance reads the reply first."})
    ApprovalPolicy.objects.get_or_create(
        name="Watch list: money, rates, guarantees, legal terms",
        defaults={"order": 40, "rule": "watch_list", "scope": "all", "explanation": "Promises bind the bank."})
    WatchTerm.objects.get_or_create(language="en", pattern=r"\bguarantee(?:s|d|ing)?\b",
                                    defaults={"is_regex": True, "note": "A guarantee is a legal commitment."})
    world = factories.build_world()
    channel = world.channel
    channel.sandbox = False
    channel.api_base_url = platform.url
    channel.account_id = platform.account_id
    channel.secrets = {"access_token": "browser-token"}
    channel.save()
    customer, identity = ticket_services.customer_for_identity(
        channel_kind="x", external_id="4242", handle="marta_r", display_name="Marta Rossi")
    ticket = ticket_services.ticket_create(channel=channel, customer=customer, team=world.care,
                                           subject="You sold me an insurance I never asked for")
    ticket_services.message_record(
        ticket=ticket, channel=channel, direction="in", created_at=timezone.now(), author_identity=identity,
        body="@bank you added an insurance to my loan that I never asked for. I want my money back!",
        external_id="1790000000000000001",
    )
    ticket = ticket_services.ticket_transition(ticket=Ticket.objects.get(pk=ticket.pk), transition="triage",
                                               actor=world.agent)
    Ticket.objects.filter(pk=ticket.pk).update(intent="mis_selling", priority="high", language="en")
    ticket = ticket_services.ticket_transition(
        ticket=Ticket.objects.get(pk=ticket.pk), transition="escalate", actor=world.agent,
        department=world.legal, reason="Customer alleges mis-selling of a loan insurance.")
    assert ticket.first_response_at is None

    seen = {}

    def drive_browser():
        from playwright.sync_api import expect, sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            try:
                # 1. The agent drafts a reply and is told, before sending, that it needs approval.
                agent = login(browser, live_server.url, "agent")
                agent.goto(f"{live_server.url}/replies/ticket/{ticket.pk}/")
                notice = agent.locator("#approval-notice")
                expect(notice).to_contain_text("Needs approval")
                expect(notice).to_contain_text("escalated to Legal")
                body = agent.locator("#reply-body")
                body.click()
                body.press_sequentially("Dear Marta, we guarantee a full refund of the insurance premium.")
                expect(notice).to_contain_text("Watch list")
                expect(notice).to_contain_text("guarantee")
                expect(agent.locator("#reply-send")).to_have_text("Send for approval")
                agent.locator("#reply-send").click()
                expect(agent.locator("#reply-composer")).to_contain_text("Sent for approval")
                expect(agent.locator("#ticket-replies")).to_contain_text("Awaiting approval")
                article_id = agent.locator("#ticket-replies article.reply").get_attribute("id")
                seen["reply_id"] = reply_id = article_id.removeprefix("reply-")

                # 2. Compliance edits and approves from the queue, with the keyboard.
                reviewer = login(browser, live_server.url, "compliance")
                reviewer.goto(f"{live_server.url}/replies/approvals/")
                item = reviewer.locator(f"#approval-{reply_id}")
                expect(item).to_contain_text("You sold me an insurance")
                expect(item).to_contain_text("I want my money back")
                expect(item).to_contain_text("Escalated tickets")
                reviewer.screenshot(path=str(screenshots / "approval-queue.png"), full_page=True)
                item.focus()
                reviewer.keyboard.press("e")
                editor = item.locator("textarea[name=body]")
                expect(editor).to_be_focused()
                editor.fill("Dear Marta, we are reviewing how the insurance was added to your loan "
                            "and will contact you privately within two working days.")
                item.get_by_role("button", name="Approve with my edits").click()
                expect(reviewer.locator(f"#approval-{reply_id}")).to_contain_text("Edited and approved")

                # 3. Published on commit: exactly one post reached the network, with the edited text.
                assert len(platform.writes) == 1
                posted = platform.writes[0]
                assert posted.path == "/2/tweets"
                assert posted.body["text"].startswith("Dear Marta, we are reviewing")
                assert posted.body["reply"] == {"in_reply_to_tweet_id": "1790000000000000001"}
                assert posted.headers["Authorization"] == "Bearer browser-token"

                # 4. The author sees what the reviewer changed and that it is published.
                agent.goto(f"{live_server.url}/replies/ticket/{ticket.pk}/")
                own = agent.locator(f"#reply-{reply_id}")
                expect(own).to_contain_text("Published")
                expect(own.locator(".diff del").first).to_be_visible()
                expect(own.locator(".diff")).to_contain_text("guarantee")
                expect(own.locator(".diff ins").first).to_be_visible()
                expect(own.locator(".diff ins").first).to_have_text("are reviewing how")
                expect(agent.locator("#first-response")).to_contain_text("met")
                agent.screenshot(path=str(screenshots / "ticket-replies.png"), full_page=True)
                agent.goto(f"{live_server.url}/tickets/{ticket.pk}/")
                agent.screenshot(path=str(screenshots / "ticket-page.png"), full_page=True)
            finally:
                browser.close()


    # Its own thread: no event loop of another Playwright user (a session fixture) is running
    # there, and the ORM stays in this thread with the test's connection.
    in_browser(drive_browser)
    reply_id = seen["reply_id"]

    ticket.refresh_from_db()
    reply = Reply.objects.get(pk=reply_id)
    assert reply.state == "published" and reply.reviewer == world.compliance_user
    assert reply.external_id == platform.posts[0]["id"]
    assert ticket.first_response_at == reply.published_at
    # The SLA app's first-response clock (started by ticket_create under the default policy) is
    # met at the moment of publishing, not when the agent pressed send.
    clock = SlaClock.objects.get(ticket=ticket, kind="first_response")
    assert clock.state == "met" and clock.ended_at == reply.published_at
    assert reply.approval_due is not None  # the queue's order came from the SLA's approval target
    assert Customer.objects.count() == 1

"""Builders shared by the reply tests."""

from tests.factories import ChannelFactory, IdentityFactory, MessageFactory


def customer_post(ticket, *, body="Why was I charged twice?", public=True, external_id="t-100", **kw):
    """An inbound customer message on the ticket, as the ingest would record it."""
    identity = kw.pop("identity", None) or IdentityFactory(
        customer=ticket.customer, channel_kind=ticket.channel.kind
    )
    return MessageFactory(ticket=ticket, channel=ticket.channel, direction="in", body=body,
                          is_public=public, external_id=external_id, author_identity=identity, **kw)


def channel(kind, *, slug, fake=None, **kw):
    fields = {"kind": kind, "name": f"Demo {kind}", "slug": slug, "account_id": "brand-1",
              "secrets": {"access_token": "s3cret-token"}}
    if fake is not None:
        fields.update(sandbox=False, api_base_url=fake.url)
    fields.update(kw)
    return ChannelFactory(**fields)


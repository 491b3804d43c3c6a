"""factory_boy factories and a small organisation used across the suite."""

from dataclasses import dataclass

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from apps.accounts import roles
from apps.accounts.models import Department, Team, User
from apps.tickets.models import Channel, Customer, Identity, Message, Ticket


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Department {n}")
    slug = factory.Sequence(lambda n: f"dept-{n}")
    kind = Department.Kind.LEGAL


def _role_group(name):
    """The role group, recreated when a transactional test's flush emptied the tables.

    Django flushes without post_migrate after a serialized_rollback test, so the next
    transactional test can start with no permissions and no role groups.
    """
    try:
        return Group.objects.get(name=name)
    except Group.DoesNotExist:
        from apps.accounts.apps import _sync_roles

        _sync_roles(sender=None)
        return Group.objects.get(name=name)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    email = factory.LazyAttribute(lambda o: f"{o.username}@bank.example")
    password = factory.PostGenerationMethodCall("set_password", "caretickets")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if extracted:
            self.groups.add(_role_group(extracted))
        self.save()


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel
        django_get_or_create = ("slug",)

    kind = Channel.Kind.X
    name = factory.Sequence(lambda n: f"Channel {n}")
    slug = factory.Sequence(lambda n: f"channel-{n}")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    display_name = factory.Faker("name")


class IdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Identity

    customer = factory.SubFactory(CustomerFactory)
    channel_kind = Channel.Kind.X
    external_id = factory.Sequence(lambda n: str(9000000 + n))
    handle = factory.Sequence(lambda n: f"customer{n}")


class TicketFactory(factory.django.DjangoModelFactory):
    """Builds a ticket in any state without going through transitions (test set-up only)."""

    class Meta:
        model = Ticket

    subject = factory.Faker("sentence")
    channel = factory.SubFactory(ChannelFactory)
    customer = factory.SubFactory(CustomerFactory)
    created_at = factory.LazyFunction(timezone.now)

    @classmethod
    def _create(cls, model_class, *args, state="new", **kwargs):
        obj = model_class(*args, **kwargs)
        # The state field is protected against assignment; set-up writes the column directly.
        obj.__dict__["state"] = state
        obj.save()
        obj.refresh_from_db()
        return obj


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    ticket = factory.SubFactory(TicketFactory)
    channel = factory.SelfAttribute("ticket.channel")
    direction = Message.Direction.IN
    body = factory.Faker("paragraph")
    created_at = factory.LazyFunction(timezone.now)


@dataclass
class World:
    care: Team
    other_team: Team
    legal: Department
    compliance: Department
    hr: Department
    risk: Department
    agent: User
    agent2: User
    lead: User
    outsider: User
    other_lead: User
    compliance_user: User
    legal_user: User
    hr_user: User
    admin: User
    channel: Channel

    def ticket(self, *, state="open", **kwargs) -> Ticket:
        kwargs.setdefault("team", self.care)
        kwargs.setdefault("channel", self.channel)
        return TicketFactory(state=state, **kwargs)


def build_world() -> World:
    care = TeamFactory(name="Social Care", slug="social-care")
    other_team = TeamFactory(name="Retail Care", slug="retail-care")
    legal = DepartmentFactory(name="Legal", slug="legal", kind=Department.Kind.LEGAL)
    compliance = DepartmentFactory(name="Compliance", slug="compliance", kind=Department.Kind.COMPLIANCE)
    hr = DepartmentFactory(name="HR", slug="hr", kind=Department.Kind.HR, confidential=True)
    risk = DepartmentFactory(name="Risk", slug="risk", kind=Department.Kind.RISK)
    legal.routes.set([compliance, risk])
    compliance.routes.set([legal])

    def member(username, role, *, teams=(), departments=()):
        user = UserFactory(username=username, role=role)
        user.teams.set(teams)
        user.departments.set(departments)
        return user

    admin = UserFactory(username="admin", role=roles.ADMIN)
    admin.is_staff = admin.is_superuser = True
    admin.save()
    return World(
        care=care, other_team=other_team, legal=legal, compliance=compliance, hr=hr, risk=risk,
        agent=member("agent", roles.AGENT, teams=[care]),
        agent2=member("agent2", roles.AGENT, teams=[care]),
        lead=member("lead", roles.LEAD, teams=[care]),
        outsider=member("outsider", roles.AGENT, teams=[other_team]),
        other_lead=member("otherlead", roles.LEAD, teams=[other_team]),
        compliance_user=member("compliance", roles.REVIEWER, departments=[compliance]),
        legal_user=member("legal", roles.DEPARTMENT_MEMBER, departments=[legal]),
        hr_user=member("hr", roles.DEPARTMENT_MEMBER, departments=[hr]),
        admin=admin,
        channel=ChannelFactory(kind=Channel.Kind.X, name="Demo X", slug="demo-x", team=care),
    )

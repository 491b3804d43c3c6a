"""Bulk ticket generator for benchmarks: N tickets with customers, messages and audit rows.

Proportions follow what a social care desk of a bank sees (channels, states, languages,
intents, ages over the last 30 days); SLA deadlines are consistent with each ticket's state,
so a few percent of the open tickets are breached. The rows are written directly — binary
COPY on PostgreSQL, multi-row INSERT on SQLite — not through the services: a million tickets
through the ORM and its hooks would take hours, and the benchmarks measure reads and sweeps,
not this loader. So no hook runs: apps that keep their own rows per ticket (SLA clocks, say)
build them for generated tickets themselves.

Primary keys come from each table's sequence before a batch is written (a consecutive range
for the tickets), so they never collide with rows the running application creates and no
sequence needs a reset afterwards. Each batch commits on its own; on PostgreSQL several
workers can write batches in parallel, each over its own connection.
"""

import bisect
import json
import random
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import accumulate

from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from django.utils import timezone
from psycopg import postgres
from psycopg.adapt import Dumper
from psycopg.pq import Format

from apps.accounts import roles
from apps.accounts.models import Department

from .demo import demo_organisation_ensure
from .models import (
    Channel,
    Customer,
    Identity,
    Intent,
    Message,
    Priority,
    Sentiment,
    SlaStatus,
    Ticket,
    TicketEvent,
    TicketState,
)

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
MAX_AGE = 30 * DAY

CHANNEL_WEIGHTS = {
    Channel.Kind.X: 30, Channel.Kind.FACEBOOK: 20, Channel.Kind.INSTAGRAM: 12,
    Channel.Kind.LINKEDIN: 6, Channel.Kind.EMAIL: 20, Channel.Kind.CERTIFIED_EMAIL: 2,
    Channel.Kind.LETTER: 3, Channel.Kind.PHONE: 7,
}
STATE_WEIGHTS = {
    TicketState.NEW: 6, TicketState.OPEN: 12, TicketState.PENDING_CUSTOMER: 6,
    TicketState.ESCALATED: 4, TicketState.RESOLVED: 14, TicketState.CLOSED: 58,
}
OPEN_STATE_WEIGHTS = {
    TicketState.NEW: 20, TicketState.OPEN: 45, TicketState.PENDING_CUSTOMER: 20,
    TicketState.ESCALATED: 15,
}
LANGUAGE_WEIGHTS = {"it": 55, "nl": 25, "en": 20}
PRIORITY_WEIGHTS = {Priority.LOW: 15, Priority.NORMAL: 60, Priority.HIGH: 20, Priority.URGENT: 5}
INTENT_WEIGHTS = {
    Intent.SUPPORT_REQUEST: 40, Intent.EMERGING_PROBLEM: 6, Intent.WIDESPREAD_ANOMALY: 8,
    Intent.MIS_SELLING: 5, Intent.REPUTATIONAL_RISK: 12, Intent.WISH: 7, Intent.PRAISE: 10,
    Intent.OTHER: 12,
}
# Where escalations go (department kind → weight); HR makes the ticket confidential.
DEPARTMENT_WEIGHTS = {
    Department.Kind.COMPLIANCE: 30, Department.Kind.COMPLAINTS_OFFICE: 25, Department.Kind.LEGAL: 20,
    Department.Kind.RISK: 20, Department.Kind.HR: 5,
}
# How old a ticket in each state is: (shortest, longest) age.
AGE_RANGES = {
    TicketState.NEW: (MINUTE, 2 * DAY),
    TicketState.OPEN: (10 * MINUTE, 5 * DAY),
    TicketState.PENDING_CUSTOMER: (HOUR, 10 * DAY),
    TicketState.ESCALATED: (2 * HOUR, 20 * DAY),
    TicketState.RESOLVED: (2 * HOUR, 10 * DAY),
    TicketState.CLOSED: (3 * DAY, MAX_AGE),
}
TRANSITION_PATHS = {
    TicketState.NEW: (),
    TicketState.OPEN: ("triage", "claim"),
    TicketState.PENDING_CUSTOMER: ("triage", "claim", "wait_for_customer"),
    TicketState.ESCALATED: ("triage", "claim", "escalate"),
    TicketState.RESOLVED: ("triage", "claim", "resolve"),
    TicketState.CLOSED: ("triage", "claim", "resolve", "close"),
}
TRANSITION_STATES = {
    "triage": (TicketState.NEW, TicketState.OPEN),
    "claim": (TicketState.OPEN, TicketState.OPEN),
    "wait_for_customer": (TicketState.OPEN, TicketState.PENDING_CUSTOMER),
    "escalate": (TicketState.OPEN, TicketState.ESCALATED),
    "resolve": (TicketState.OPEN, TicketState.RESOLVED),
    "close": (TicketState.RESOLVED, TicketState.CLOSED),
}
BREACHED_SHARE = 0.04  # of the tickets whose customer clock runs

FIRST_NAMES = {
    "it": ["Giulia", "Marco", "Francesca", "Luca", "Sara", "Alessandro", "Chiara", "Davide",
           "Elena", "Matteo", "Valentina", "Simone", "Martina", "Andrea", "Federica", "Paolo"],
    "nl": ["Daan", "Sanne", "Pieter", "Lotte", "Jeroen", "Fleur", "Bram", "Anouk", "Thijs",
           "Eva", "Ruben", "Iris", "Sem", "Noor", "Lars", "Femke"],
    "en": ["James", "Emily", "Oliver", "Sophie", "Jack", "Chloe", "Harry", "Grace", "George",
           "Amelia", "Daniel", "Hannah", "Thomas", "Lucy", "Samuel", "Ella"],
}
LAST_NAMES = {
    "it": ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
           "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Costa", "Fontana"],
    "nl": ["de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Smit", "Meijer",
           "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "Dekker"],
    "en": ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
           "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green"],
}
CITIES = {
    "it": ["Verona", "Milano", "Padova", "Bologna", "Torino", "Napoli", "Roma", "Firenze"],
    "nl": ["Amsterdam", "Utrecht", "Rotterdam", "Den Haag", "Eindhoven", "Groningen"],
    "en": ["London", "Dublin", "Manchester", "Edinburgh", "Bristol", "Cork"],
}
# (subject, first message) per language and intent; {city} and {amount} are filled in.
OPENINGS = {
    "it": {
        Intent.SUPPORT_REQUEST: [
            ("Carta bloccata", "Buongiorno, la mia carta è stata bloccata dopo un pagamento a "
             "{city}. Come la sblocco?"),
            ("Bonifico non arrivato", "Ho fatto un bonifico di {amount} euro tre giorni fa e "
             "il destinatario non l'ha ricevuto."),
            ("Accesso all'app", "Non riesco ad accedere all'app dopo il cambio telefono, mi "
             "chiede un codice che non arriva."),
            ("Estratto conto", "Mi servirebbe l'estratto conto annuale per il 730, dove lo trovo?"),
        ],
        Intent.EMERGING_PROBLEM: [
            ("Notifiche doppie", "Da ieri ricevo ogni notifica di pagamento due volte. "
             "Succede anche ad altri?"),
            ("SMS sospetto", "Mi è arrivato un SMS a vostro nome con un link per \"sbloccare "
             "il conto\". È una truffa?"),
        ],
        Intent.WIDESPREAD_ANOMALY: [
            ("App non funziona", "L'app è giù da stamattina, errore 503. Non posso pagare nulla!"),
            ("Addebito doppio", "Mi avete addebitato due volte {amount} euro. Ora sono in rosso."),
        ],
        Intent.MIS_SELLING: [
            ("Polizza non richiesta", "Col mutuo mi hanno fatto firmare una polizza da "
             "{amount} euro dicendo che era obbligatoria. Non lo era."),
            ("Investimento sbagliato", "In filiale a {city} mi hanno venduto un fondo \"senza "
             "rischi\" che ha perso il 30%."),
        ],
        Intent.REPUTATIONAL_RISK: [
            ("Sportello chiuso", "Filiale di {city} chiusa senza preavviso, un'ora di fila "
             "per niente. Vergogna."),
            ("Risposte inesistenti", "Vi scrivo da due settimane e nessuno risponde. Lo "
             "racconterò a tutti."),
        ],
        Intent.WISH: [
            ("Apple Pay", "Quando arriva Apple Pay per le vostre carte?"),
            ("Bonifici programmati in app", "Sarebbe utile poter programmare i bonifici "
             "ricorrenti dall'app."),
        ],
        Intent.PRAISE: [
            ("Grazie alla filiale", "Grazie alla filiale di {city}, gentilissimi e "
             "velocissimi con la pratica del mutuo!"),
            ("Assistenza top", "Assistenza in chat perfetta, problema risolto in cinque minuti 👍"),
        ],
        Intent.OTHER: [
            ("Orari filiale", "La filiale di {city} è aperta il sabato mattina?"),
            ("Tassi", "Come mai il tasso del conto deposito è sceso di nuovo?"),
        ],
    },
    "nl": {
        Intent.SUPPORT_REQUEST: [
            ("Pas geblokkeerd", "Mijn pas is geblokkeerd na een betaling in {city}. Hoe krijg "
             "ik hem weer actief?"),
            ("Overboeking niet aangekomen", "Ik heb {amount} euro overgemaakt maar het geld "
             "is nog niet aangekomen."),
            ("Inloggen lukt niet", "Sinds mijn nieuwe telefoon kan ik niet meer inloggen in de app."),
        ],
        Intent.EMERGING_PROBLEM: [
            ("Vreemde sms", "Ik kreeg een sms namens jullie met een link om mijn rekening te "
             "'verifiëren'. Phishing?"),
        ],
        Intent.WIDESPREAD_ANOMALY: [
            ("Storing iDEAL", "iDEAL-betalingen mislukken al een uur. Storing?"),
            ("Dubbele afschrijving", "Er is twee keer {amount} euro van mijn rekening afgeschreven."),
        ],
        Intent.MIS_SELLING: [
            ("Woekerpolis", "Jullie hebben mij een beleggingsverzekering verkocht waarvan de "
             "kosten nooit zijn uitgelegd."),
        ],
        Intent.REPUTATIONAL_RISK: [
            ("Geen reactie", "Al drie weken geen reactie op mijn klacht. Dit deel ik met iedereen."),
            ("Kantoor dicht", "Kantoor in {city} zonder aankondiging dicht. Klantvriendelijk hoor."),
        ],
        Intent.WISH: [
            ("Donkere modus", "Komt er een donkere modus in de app?"),
        ],
        Intent.PRAISE: [
            ("Top geholpen", "Top geholpen door de chat vandaag, binnen vijf minuten opgelost!"),
        ],
        Intent.OTHER: [
            ("Spaarrente", "Waarom is de spaarrente weer verlaagd?"),
        ],
    },
    "en": {
        Intent.SUPPORT_REQUEST: [
            ("Card declined", "My card was declined at every ATM in {city}. Can you help?"),
            ("Transfer missing", "I sent {amount} euros three days ago and it still hasn't arrived."),
            ("Cannot log in", "I can't log in to the app since I changed my phone."),
        ],
        Intent.EMERGING_PROBLEM: [
            ("Suspicious text", "Got a text in your name asking me to confirm my details via "
             "a link. Scam?"),
        ],
        Intent.WIDESPREAD_ANOMALY: [
            ("App down", "Is the app down? Nothing loads since this morning."),
            ("Charged twice", "I've been charged {amount} euros twice for the same payment."),
        ],
        Intent.MIS_SELLING: [
            ("Packaged account", "I was sold a premium account with insurance that doesn't "
             "cover me. I want the fees back."),
        ],
        Intent.REPUTATIONAL_RISK: [
            ("No answer", "Two weeks and no answer to my complaint. Telling everyone I know."),
        ],
        Intent.WISH: [
            ("Joint account online", "Please let us open a joint account online."),
        ],
        Intent.PRAISE: [
            ("Great service", "Shout out to your team in {city}, sorted my mortgage in one call!"),
        ],
        Intent.OTHER: [
            ("Branch hours", "Is the {city} branch open on Saturdays?"),
        ],
    },
}
REPLIES = {
    "it": ["Ciao, ci dispiace per il disagio: ci scrivi in privato i dettagli così verifichiamo?",
           "Grazie per la segnalazione, abbiamo verificato e risolto. Facci sapere se è tutto ok.",
           "Grazie per il messaggio! Lo giriamo ai colleghi."],
    "nl": ["Hoi, vervelend! Stuur je ons een privébericht met de details? Dan zoeken we het uit.",
           "Dank voor je melding, het is opgelost. Laat je weten of alles werkt?",
           "Dank je wel voor je bericht!"],
    "en": ["Hi, sorry about this. Could you DM us the details so we can check?",
           "Thanks for letting us know, this is now fixed. Let us know if all is well.",
           "Thank you for your message!"],
}
FOLLOW_UPS = {
    "it": ["Vi ho scritto in privato.", "Grazie, ora funziona!", "Ancora niente, aspetto."],
    "nl": ["Ik heb jullie een bericht gestuurd.", "Dank, het werkt weer!", "Nog steeds niets."],
    "en": ["DM sent.", "Thanks, it works now!", "Still nothing, waiting."],
}


class _Choice:
    """Weighted choice with precomputed cumulative weights (fast in a tight loop)."""

    def __init__(self, weights: dict):
        self.values = list(weights)
        self.cum = list(accumulate(weights.values()))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random):
        return self.values[bisect.bisect_right(self.cum, rng.random() * self.total)]


@dataclass
class _Table:
    """Rows for one table in one batch, in the column order the writer uses."""

    model: type[models.Model]
    columns: list[str]
    rows: list[tuple]


def _columns(model, given: list[str]) -> tuple[list[str], tuple]:
    """The given attnames' columns, then every other column with its (constant) default.

    Columns added to a model later are filled with their default, so the generator keeps
    working; a new NOT NULL column without a default makes the load fail loudly.
    """
    fields = {f.attname: f for f in model._meta.concrete_fields}
    rest = [a for a in fields if a not in given]
    defaults = []
    for attname in rest:
        value = fields[attname].get_default()
        if isinstance(fields[attname], models.JSONField):
            value = json.dumps(value)
        defaults.append(value)
    return [fields[a].column for a in [*given, *rest]], tuple(defaults)


TICKET_FIELDS = [
    "id", "subject", "channel_id", "customer_id", "team_id", "department_id", "assignee_id",
    "state", "version", "priority", "language", "intent", "sentiment", "confidential",
    "triage_explanation", "escalation_reason", "conversation_key", "context",
    "is_formal_complaint", "complaint_category", "first_response_due", "next_response_due",
    "resolution_due", "sla_due", "department_due", "regulatory_due", "sla_status", "created_at",
    "updated_at", "first_response_at", "last_customer_message_at", "last_agent_reply_at",
    "resolved_at", "closed_at",
]
MESSAGE_FIELDS = [
    "id", "ticket_id", "channel_id", "direction", "is_public", "subject", "body",
    "author_identity_id", "author_user_id", "external_id", "parent_external_id", "conversation_id",
    "references", "hashtags", "is_automatic", "is_removed", "is_hidden", "pii_flags", "raw",
    "created_at", "received_at",
]
EVENT_FIELDS = [
    "id", "ticket_id", "actor_id", "kind", "transition", "from_state", "to_state", "reason", "data",
    "created_at",
]
CUSTOMER_FIELDS = ["id", "display_name", "email", "phone", "language", "created_at"]
IDENTITY_FIELDS = [
    "id", "customer_id", "channel_kind", "external_id", "handle", "display_name", "followers_count",
    "created_at",
]


@dataclass
class _Plan:
    """One ticket decided but not yet numbered: everything random is drawn here."""

    state: str
    channel: Channel
    language: str
    intent: str
    sentiment: str
    priority: str
    created_at: datetime
    customer: int | None  # index into the batch's new customers; None until numbered
    messages: list  # (direction, at, body, subject)
    transitions: list  # (name, at)
    assignee: int | None
    department: Department | None
    first_name: str


class _Setup:
    """What every batch draws from, read once: channels, departments, agents, weights, columns."""

    def __init__(self, *, open_only: bool, now: datetime):
        self.now = now
        # The demo team, departments and one channel per kind (created if missing).
        org = demo_organisation_ensure()
        self.team = org.team
        self.channels = {channel.kind: channel for channel in org.channels.values()}
        self.channel_choice = _Choice({k: w for k, w in CHANNEL_WEIGHTS.items() if k in self.channels})
        self.state_choice = _Choice(OPEN_STATE_WEIGHTS if open_only else STATE_WEIGHTS)
        self.language_choice = _Choice(LANGUAGE_WEIGHTS)
        self.priority_choice = _Choice(PRIORITY_WEIGHTS)
        self.intent_choice = _Choice(INTENT_WEIGHTS)
        departments = {d.kind: d for d in org.departments.values()}
        self.department_choice = _Choice(
            {departments[k]: w for k, w in DEPARTMENT_WEIGHTS.items() if k in departments}
        )
        self.agents = list(
            get_user_model()
            .objects.filter(teams=self.team, is_active=True,
                            groups__name__in=[roles.AGENT, roles.LEAD])
            .distinct()
            .order_by("pk")
            .values_list("pk", flat=True)
        ) or [None]
        self.ticket_cols, self.ticket_rest = _columns(Ticket, TICKET_FIELDS)
        self.message_cols, self.message_rest = _columns(Message, MESSAGE_FIELDS)
        self.event_cols, self.event_rest = _columns(TicketEvent, EVENT_FIELDS)
        self.customer_cols, self.customer_rest = _columns(Customer, CUSTOMER_FIELDS)
        self.identity_cols, self.identity_rest = _columns(Identity, IDENTITY_FIELDS)

class _Batch:
    """One batch of tickets: planned with its own random generator, then laid out as rows.

    Each batch's generator is seeded from the run's seed and the batch's number, so the data
    is the same however many workers write the batches, and in whatever order.
    """

    def __init__(self, setup: _Setup, *, seed: int, index: int):
        self.setup, self.now = setup, setup.now
        self.rng = random.Random(f"{seed}:{index}")

    # --- drawing ---------------------------------------------------------------------------

    def _after(self, start: datetime, low: timedelta, high: timedelta) -> datetime:
        """A moment `low`..`high` after start, but never in the future."""
        at = start + low + (high - low) * self.rng.random()
        latest = self.now - MINUTE
        return min(at, latest) if latest > start else start

    def plan(self, customers_by_kind: dict) -> _Plan:
        rng = self.rng
        state = self.setup.state_choice.pick(rng)
        kind = self.setup.channel_choice.pick(rng)
        language = self.setup.language_choice.pick(rng)
        intent = self.setup.intent_choice.pick(rng)
        if intent == Intent.PRAISE:
            sentiment = Sentiment.POSITIVE
        else:
            r = rng.random()
            sentiment = (
                Sentiment.NEGATIVE if r < 0.6 else Sentiment.NEUTRAL if r < 0.95 else Sentiment.POSITIVE
            )
        priority = self.setup.priority_choice.pick(rng)
        low, high = AGE_RANGES[state]
        created_at = self.now - (low + (high - low) * rng.random() ** 1.5)

        # A quarter of the tickets come from someone who already wrote on that network.
        known = customers_by_kind.setdefault(kind, [])
        customer = known[rng.randrange(len(known))] if known and rng.random() < 0.25 else None

        subject, opening = rng.choice(OPENINGS[language][intent])
        body = opening.format(city=rng.choice(CITIES[language]),
                              amount=f"{rng.randint(20, 2500)},{rng.randint(0, 99):02d}")
        messages = [("in", created_at, body, subject)]
        transitions = []
        at = created_at
        path = TRANSITION_PATHS[state]
        if path:
            at = self._after(created_at, MINUTE, 30 * MINUTE)
            transitions += [("triage", at), ("claim", at)]
        asking, fixed, thanks = REPLIES[language]
        if intent in (Intent.PRAISE, Intent.WISH):
            fixed = thanks  # nothing to fix: the answer thanks the customer
        follow_ups = FOLLOW_UPS[language]
        resolved_at = closed_at = None
        if state == TicketState.NEW:
            if rng.random() < 0.2:
                messages.append(("in", self._after(created_at, 2 * MINUTE, HOUR), rng.choice(follow_ups), ""))
        elif state == TicketState.OPEN:
            if rng.random() < 0.5:
                at = self._after(at, 5 * MINUTE, 3 * HOUR)
                messages.append(("out", at, asking, ""))
                if rng.random() < 0.5:
                    messages.append(("in", self._after(at, 5 * MINUTE, 6 * HOUR), follow_ups[0], ""))
        elif state == TicketState.PENDING_CUSTOMER:
            at = self._after(at, 5 * MINUTE, 3 * HOUR)
            messages.append(("out", at, asking, ""))
            if rng.random() < 0.3:
                at = self._after(at, 10 * MINUTE, 12 * HOUR)
                messages.append(("in", at, follow_ups[2], ""))
                at = self._after(at, 5 * MINUTE, 2 * HOUR)
                messages.append(("out", at, asking, ""))
            transitions.append(("wait_for_customer", at))
        elif state == TicketState.ESCALATED:
            if rng.random() < 0.7:
                at = self._after(at, 5 * MINUTE, 2 * HOUR)
                messages.append(("out", at, thanks, ""))
            transitions.append(("escalate", self._after(at, 10 * MINUTE, DAY)))
        else:  # resolved or closed
            at = self._after(at, 5 * MINUTE, 4 * HOUR)
            messages.append(("out", at, fixed, ""))
            if rng.random() < 0.5:
                at = self._after(at, 10 * MINUTE, 12 * HOUR)
                messages.append(("in", at, follow_ups[1], ""))
                if state == TicketState.CLOSED and rng.random() < 0.4:
                    at = self._after(at, 5 * MINUTE, HOUR)
                    messages.append(("out", at, thanks, ""))
            resolved_at = self._after(at, MINUTE, 2 * HOUR)
            transitions.append(("resolve", resolved_at))
            if state == TicketState.CLOSED:
                closed_at = self._after(resolved_at, DAY, 3 * DAY)
                transitions.append(("close", closed_at))
        return _Plan(
            state=state, channel=self.setup.channels[kind], language=language, intent=intent,
            sentiment=sentiment, priority=priority, created_at=created_at, customer=customer,
            messages=messages, transitions=transitions,
            assignee=self.setup.agents[rng.randrange(len(self.setup.agents))] if path else None,
            department=self.setup.department_choice.pick(rng) if state == TicketState.ESCALATED else None,
            first_name=rng.choice(FIRST_NAMES[language]),
        )

    def _deadline(self, low: timedelta, high: timedelta) -> datetime:
        """A running deadline around now: a few percent already passed."""
        if self.rng.random() < BREACHED_SHARE:
            return self.now - 6 * HOUR * self.rng.random() - MINUTE
        return self.now + low + (high - low) * self.rng.random()

    def _sla_status(self, due: datetime | None) -> str:
        if due is None:
            return SlaStatus.NONE
        if due < self.now:
            return SlaStatus.BREACHED
        return SlaStatus.WARNING if due - self.now < HOUR else SlaStatus.OK

    # --- rows ------------------------------------------------------------------------------

    def tables(self, first_ticket_id: int, count: int) -> list[_Table]:
        """Plan `count` tickets, reserve ids for their rows, and lay the rows out per table."""
        customers_by_kind: dict[str, list[int]] = {}
        plans = []
        new_customers = 0
        for _ in range(count):
            plan = self.plan(customers_by_kind)
            if plan.customer is None:
                plan.customer = new_customers
                customers_by_kind[plan.channel.kind].append(new_customers)
                new_customers += 1
            plans.append(plan)
        n_messages = sum(len(p.messages) for p in plans)
        n_events = sum(1 + len(p.transitions) for p in plans)
        customer_ids = _reserve_ids(Customer, new_customers)
        identity_ids = _reserve_ids(Identity, new_customers)
        message_ids = iter(_reserve_ids(Message, n_messages))
        event_ids = iter(_reserve_ids(TicketEvent, n_events))

        rng, now = self.rng, self.now
        customers, identities, tickets, messages, events = [], [], [], [], []
        written = set()
        for offset, plan in enumerate(plans):
            ticket_id = first_ticket_id + offset
            kind, language = plan.channel.kind, plan.language
            cid, iid = customer_ids[plan.customer], identity_ids[plan.customer]
            if plan.customer not in written:
                name = f"{plan.first_name} {rng.choice(LAST_NAMES[language])}"
                email = f"customer{cid}@example.com" if kind in (
                    Channel.Kind.EMAIL, Channel.Kind.CERTIFIED_EMAIL) else ""
                written.add(plan.customer)
                customers.append((cid, name, email, "", language, plan.created_at) + self.setup.customer_rest)
                identities.append(
                    (iid, cid, kind, email or f"gen-{cid}", f"{plan.first_name.lower()}{cid}", name,
                     rng.randint(10, 5000) if plan.channel.is_public_network else None,
                     plan.created_at) + self.setup.identity_rest
                )
            public = plan.channel.is_public_network
            first_out = last_in = last_out = None
            for direction, at, body, subject in plan.messages:
                message_id = next(message_ids)
                external = None
                if kind not in (Channel.Kind.LETTER, Channel.Kind.PHONE):
                    external = f"gen-{message_id}"
                if direction == "in":
                    last_in = at
                    author_identity, author_user = iid, None
                else:
                    first_out = first_out or at
                    last_out = at
                    author_identity, author_user = None, plan.assignee
                messages.append(
                    (message_id, ticket_id, plan.channel.pk, direction, public, subject, body,
                     author_identity, author_user, external, "", "", "[]", "[]", False, False,
                     False, "[]", "{}", at, at) + self.setup.message_rest
                )
            events.append(
                (next(event_ids), ticket_id, None, TicketEvent.Kind.CREATED, "", "", TicketState.NEW, "",
                 f'{{"channel": "{plan.channel.slug}", "generated": true}}', plan.created_at)
                + self.setup.event_rest
            )
            resolved_at = closed_at = None
            for name, at in plan.transitions:
                source, target = TRANSITION_STATES[name]
                data, reason = "{}", ""
                if name == "escalate":
                    data = json.dumps({"department": plan.department.name})
                    reason = "Needs the department's decision."
                elif name == "claim" and plan.assignee:
                    data = f'{{"assignee_id": {plan.assignee}}}'
                elif name == "resolve":
                    resolved_at = at
                elif name == "close":
                    closed_at = at
                events.append(
                    (next(event_ids), ticket_id, plan.assignee, TicketEvent.Kind.TRANSITION, name,
                     source, target, reason, data, at) + self.setup.event_rest
                )

            first_due = next_due = resolution_due = sla_due = department_due = None
            state = plan.state
            if state in (TicketState.NEW, TicketState.OPEN):
                due = self._deadline(5 * MINUTE, 8 * HOUR)
                if first_out is None:
                    first_due = due
                else:
                    next_due = due
                resolution_due = max(plan.created_at + 2 * DAY, due + HOUR)
                sla_due = min(due, resolution_due)
            elif state == TicketState.PENDING_CUSTOMER:
                # The clock is paused while the customer has the ball.
                resolution_due = now + DAY + 2 * DAY * rng.random()
            elif state == TicketState.ESCALATED:
                department_due = self._deadline(HOUR, 3 * DAY)
                resolution_due = sla_due = department_due + DAY * rng.random()
            formal = kind in (Channel.Kind.LETTER, Channel.Kind.CERTIFIED_EMAIL) and rng.random() < 0.4
            category = ""
            regulatory_due = None
            if formal:
                category = "payment_services" if rng.random() < 0.5 else "banking"
                regulatory_due = plan.created_at + (21 * DAY if category == "payment_services" else 60 * DAY)
            department = plan.department
            last_at = max([plan.created_at, *(at for _, at in plan.transitions),
                           *(m[1] for m in plan.messages)])
            tickets.append((
                ticket_id, plan.messages[0][3], plan.channel.pk, cid, self.setup.team.pk,
                department.pk if department else None, plan.assignee, state,
                1 + len(plan.transitions), plan.priority, language, plan.intent, plan.sentiment,
                bool(department and department.confidential), "{}",
                "Needs the department's decision." if department else "", "", "{}", formal,
                category, first_due, next_due, resolution_due, sla_due, department_due,
                regulatory_due, self._sla_status(sla_due), plan.created_at, last_at, first_out,
                last_in, last_out, resolved_at, closed_at,
            ) + self.setup.ticket_rest)
        return [
            _Table(Customer, self.setup.customer_cols, customers),
            _Table(Identity, self.setup.identity_cols, identities),
            _Table(Ticket, self.setup.ticket_cols, tickets),
            _Table(Message, self.setup.message_cols, messages),
            _Table(TicketEvent, self.setup.event_cols, events),
        ]


# --- writing ---------------------------------------------------------------------------------


def _sequence(cursor, table: str) -> str:
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    return cursor.fetchone()[0]


def _reserve_range(model, count: int) -> int:
    """Take `count` consecutive ids from the table's sequence; returns the first one.

    Also moves a sequence that lags behind the table's highest id (rows loaded with explicit
    ids) past it. Table names in the SQL come from model metadata, quoted; values are bound.
    """
    table = model._meta.db_table
    qn = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The lock keeps concurrent inserts from drawing ids between nextval and setval.
            cursor.execute(f"LOCK TABLE {qn(table)} IN SHARE ROW EXCLUSIVE MODE")
            sequence = _sequence(cursor, table)
            cursor.execute(
                f"SELECT GREATEST(nextval(%s), COALESCE((SELECT MAX(id) FROM {qn(table)}), 0) + 1)",  # noqa: S608
                [sequence],
            )
            first = cursor.fetchone()[0]
            # With count 0 the sequence is only caught up: its next value is `first`.
            cursor.execute("SELECT setval(%s, %s, %s)", [sequence, max(first + count - 1, first), count > 0])
            return first
        if connection.vendor == "sqlite":
            # AUTOINCREMENT tables draw from sqlite_sequence: raising it reserves the range.
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {qn(table)}")  # noqa: S608
            highest = cursor.fetchone()[0]
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            row = cursor.fetchone()
            first = max(highest, row[0] if row else 0) + 1
            if row:
                cursor.execute("UPDATE sqlite_sequence SET seq = %s WHERE name = %s",
                               [first + count - 1, table])
            else:
                cursor.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)",
                               [table, first + count - 1])
            return first
    raise NotImplementedError(f"generate_tickets does not support {connection.vendor}")


def _reserve_ids(model, count: int) -> Sequence[int]:
    """`count` fresh ids for one batch's rows of a table.

    PostgreSQL hands them out with nextval, which needs no lock, so parallel workers and the
    running application never wait on each other (the ids of one batch may then interleave with
    another's). SQLite has one writer at a time and takes a consecutive range.
    """
    if count <= 0:
        return range(0)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(%s) FROM generate_series(1, %s)",
                [_sequence(cursor, model._meta.db_table), count],
            )
            return [row[0] for row in cursor.fetchall()]
    first = _reserve_range(model, count)
    return range(first, first + count)


def _write(table: _Table) -> None:
    if not table.rows:
        return
    if len(table.rows[0]) != len(table.columns):
        raise ValueError(f"{table.model.__name__}: {len(table.rows[0])} values for {len(table.columns)} columns")
    qn = connection.ops.quote_name
    name = qn(table.model._meta.db_table)
    columns = ", ".join(qn(c) for c in table.columns)
    if connection.vendor == "postgresql":
        _copy_binary(table, f"COPY {name} ({columns}) FROM STDIN (FORMAT BINARY)")
        return
    # SQLite stores datetimes as naive UTC text (as Django's adapter does); the rest as given.
    fields = {f.column: f for f in table.model._meta.concrete_fields}
    adapt = [i for i, c in enumerate(table.columns) if isinstance(fields[c], models.DateTimeField)]
    rows = []
    for row in table.rows:
        row = list(row)
        for i in adapt:
            if row[i] is not None:
                row[i] = str(row[i].astimezone(UTC).replace(tzinfo=None))
        rows.append(row)
    placeholders = ", ".join(["%s"] * len(table.columns))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {name} ({columns}) VALUES ({placeholders})", rows)  # noqa: S608


class _JsonTextBinaryDumper(Dumper):
    """Binary jsonb from text that is already JSON (the rows carry JSON as text for every backend)."""

    format = Format.BINARY
    oid = postgres.types["jsonb"].oid

    def dump(self, obj: str) -> bytes:
        return b"\x01" + obj.encode()  # jsonb binary format: version byte, then the text


def _copy_binary(table: _Table, sql: str) -> None:
    """COPY in binary: about a third cheaper for the server than text (no parsing of timestamps)."""
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, atttypid FROM pg_attribute"
            " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            [table.model._meta.db_table],
        )
        oids = dict(cursor.fetchall())
        cursor.adapters.register_dumper(None, _JsonTextBinaryDumper)
        with cursor.copy(sql) as copy:
            copy.set_types([oids[c] for c in table.columns])
            for row in table.rows:
                copy.write_row(row)


def _write_batch(setup: _Setup, seed: int, index: int, first_ticket_id: int, count: int) -> None:
    tables = _Batch(setup, seed=seed, index=index).tables(first_ticket_id, count)
    with transaction.atomic():
        for table in tables:
            _write(table)


def _write_batch_in_worker(setup: _Setup, seed: int, job: tuple[int, int, int]) -> None:
    """A worker thread writes through its own database connection, closed after each batch."""
    try:
        _write_batch(setup, seed, *job)
    finally:
        connection.close()


def generate_tickets(
    n: int, *, seed: int = 0, open_only: bool = False, now: datetime | None = None,
    batch_size: int = 5000, workers: int = 1,
) -> tuple[int, int]:
    """Bulk-create `n` tickets with customers, identities, messages and audit rows.

    Returns the first and last ticket id. `open_only` draws only new, open, pending and
    escalated tickets (the SLA sweep's working set); `seed` and `now` make a run repeatable.
    The demo team, departments and channels are created if missing. `workers` > 1 writes
    batches in parallel over that many connections (PostgreSQL, outside a transaction: each
    worker commits its own batches); the data is the same as with one worker.
    """
    if n <= 0:
        raise ValueError("n must be positive")
    if workers > 1 and (connection.vendor != "postgresql" or connection.in_atomic_block):
        raise ValueError("Parallel workers need PostgreSQL and no open transaction.")
    setup = _Setup(open_only=open_only, now=(now or timezone.now()).astimezone(UTC))
    if connection.vendor == "postgresql":
        for model in (Customer, Identity, Message, TicketEvent):
            _reserve_range(model, 0)
    first = _reserve_range(Ticket, n)
    batch_size = max(1, batch_size)
    jobs = [
        (index, first + start, min(batch_size, n - start))
        for index, start in enumerate(range(0, n, batch_size))
    ]
    if workers <= 1:
        for job in jobs:
            _write_batch(setup, seed, *job)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for _ in pool.map(partial(_write_batch_in_worker, setup, seed), jobs):
                pass  # re-raises the first failure
    return first, first + n - 1

"""The demo organisation and its tickets, built through the real services (idempotent).

The tickets retell the cases in `shared/seeds/` for a fictional bank, "Banca Aurora":
a hostile reply wave under a sponsored campaign tweet, the disabled-bay complaint answered
within the hour, late answers under a sponsored LinkedIn post, a refund promised months ago
and never paid (letter, certified e-mail, then X), an employee-conduct complaint for HR, plus
everyday support requests, mis-selling claims, praise and wishes in Italian, Dutch and English.

Every ticket is created with `ticket_create` and classified on its first message by the
triage app, as ingest does; its thread is recorded with `message_record`, its notes with
`note_add`, formal complaints are flagged with `ticket_formal_complaint_set`, and its path
goes through `ticket_transition` acted by the person who would take that step. So the audit
trail, the hooks (SLA clocks, radar) and the notifications are what production would produce.
Message and ticket times are set relative to now; the audit rows of the transitions carry the
time the demo was loaded. A ticket is identified by `Ticket.context["demo_key"]`: running the
loader again creates only what is missing.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from apps.accounts import roles
from apps.accounts.models import Department, Team
from apps.sla.services import ticket_formal_complaint_set
from apps.triage.services import ticket_triage_apply, triage_classify

from . import services
from .models import Channel, Customer, Identity, Message, Ticket, TicketEvent
from .policies import forget_membership

DEMO_PASSWORD = "caretickets"
DEMO_URL = "http://127.0.0.1:8000/"
DEMO_TIMEZONE = "Europe/Rome"
BRAND_HANDLE = "BancaAurora"
X_ACCOUNT_ID = "1500000000000000000"
META_PAGE_ID = "104857600000001"

# --- organisation ----------------------------------------------------------------------------

TEAM = {"slug": "social-care", "name": "Social Care", "default_language": "it"}

# slug, name, kind, confidential
DEPARTMENTS = [
    ("customer-care", "Customer care", Department.Kind.CARE, False),
    ("legal", "Legal", Department.Kind.LEGAL, False),
    ("compliance", "Compliance", Department.Kind.COMPLIANCE, False),
    ("hr", "HR", Department.Kind.HR, True),
    ("risk", "Risk management", Department.Kind.RISK, False),
    ("complaints-office", "Complaints office", Department.Kind.COMPLAINTS_OFFICE, False),
]

# Which department may hand an escalated ticket to which (HR keeps what it receives).
ROUTES = {
    "legal": ["compliance", "complaints-office"],
    "compliance": ["legal", "risk"],
    "risk": ["compliance"],
    "complaints-office": ["legal"],
    "hr": [],
}


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    role: str
    language: str
    in_team: bool = False
    departments: tuple[str, ...] = ()
    superuser: bool = False


USERS = [
    DemoUser("agent", "Chiara", "Conti", roles.AGENT, "it", in_team=True),
    DemoUser("agent2", "Daan", "de Vries", roles.AGENT, "nl", in_team=True),
    DemoUser("lead", "Marco", "Ferri", roles.LEAD, "it", in_team=True),
    DemoUser("compliance", "Elena", "Galli", roles.REVIEWER, "it", departments=("compliance",)),
    DemoUser("legal", "Paolo", "Moretti", roles.DEPARTMENT_MEMBER, "it", departments=("legal",)),
    DemoUser("hr", "Sara", "Lombardi", roles.DEPARTMENT_MEMBER, "it", departments=("hr",)),
    DemoUser("admin", "Anna", "Bianchi", roles.ADMIN, "en", superuser=True),
]


@dataclass(frozen=True)
class DemoChannel:
    slug: str
    kind: str
    name: str
    account_id: str = ""
    secrets: dict = field(default_factory=dict)


META_SECRETS = {"app_secret": "demo-meta-secret", "verify_token": "demo-verify-token"}

CHANNELS = [
    DemoChannel("demo-x", Channel.Kind.X, "X @BancaAurora", X_ACCOUNT_ID,
                {"consumer_secret": "demo-x-secret"}),
    DemoChannel("demo-facebook", Channel.Kind.FACEBOOK, "Facebook Banca Aurora", META_PAGE_ID,
                META_SECRETS),
    DemoChannel("demo-instagram", Channel.Kind.INSTAGRAM, "Instagram @banca.aurora",
                "17841400000000001", META_SECRETS),
    DemoChannel("demo-linkedin", Channel.Kind.LINKEDIN, "LinkedIn Aurora Bank",
                "urn:li:organization:1000001", {"client_secret": "demo-linkedin-secret"}),
    DemoChannel("demo-email", Channel.Kind.EMAIL, "E-mail care@bank.example", "care@bank.example",
                {"token": "demo-email-token"}),
    DemoChannel("demo-pec", Channel.Kind.CERTIFIED_EMAIL, "PEC reclami@pec.bank.example",
                "reclami@pec.bank.example"),
    DemoChannel("demo-letter", Channel.Kind.LETTER, "Letters (Complaints, Verona)"),
    DemoChannel("demo-phone", Channel.Kind.PHONE, "Phone +39 045 000 0000", "+390450000000"),
]


@dataclass
class DemoOrganisation:
    team: Team
    departments: dict[str, Department]
    channels: dict[str, Channel]


@transaction.atomic
def demo_organisation_ensure() -> DemoOrganisation:
    """The demo team, departments with their routes and channels; existing rows are kept as they are."""
    team, _ = Team.objects.get_or_create(
        slug=TEAM["slug"], defaults={"name": TEAM["name"], "default_language": TEAM["default_language"]}
    )
    departments = {}
    for slug, name, kind, confidential in DEPARTMENTS:
        departments[slug], _ = Department.objects.get_or_create(
            slug=slug, defaults={"name": name, "kind": kind, "confidential": confidential}
        )
    for slug, targets in ROUTES.items():
        if targets:
            departments[slug].routes.add(*(departments[t] for t in targets))
    channels = {}
    for spec in CHANNELS:
        channels[spec.slug], _ = Channel.objects.get_or_create(
            slug=spec.slug,
            defaults={
                "kind": spec.kind, "name": spec.name, "team": team, "account_id": spec.account_id,
                "secrets": dict(spec.secrets), "sandbox": True,
            },
        )
    return DemoOrganisation(team=team, departments=departments, channels=channels)


@transaction.atomic
def demo_users_ensure(org: DemoOrganisation) -> dict:
    """The demo users with their role, team or department; a new user gets the demo password.

    Existing users keep their password and preferences; only their role and memberships are
    added if missing, so the demo workflow below can always be acted out.
    """
    user_model = get_user_model()
    users = {}
    # One hash for all: the password is published, and seven slow hashes would slow `make run`.
    password = None
    for spec in USERS:
        user, created = user_model.objects.get_or_create(
            username=spec.username,
            defaults={
                "first_name": spec.first_name, "last_name": spec.last_name,
                "email": f"{spec.username}@bank.example", "language": spec.language,
                "timezone": DEMO_TIMEZONE,
                # Leads tune SLA policies, calendars and triage rules in the admin.
                "is_staff": spec.superuser or spec.role == roles.LEAD,
                "is_superuser": spec.superuser,
            },
        )
        if created:
            password = password or make_password(DEMO_PASSWORD)
            user.password = password
            user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=spec.role))
        if spec.in_team:
            user.teams.add(org.team)
        if spec.departments:
            user.departments.add(*(org.departments[slug] for slug in spec.departments))
        users[spec.username] = user
    return users


# --- ticket scenarios ------------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """A local wall-clock time `days_back` days ago (the disabled-bay story is told in hours)."""

    days_back: int
    hour: int
    minute: int


When = timedelta | Clock


@dataclass(frozen=True)
class Author:
    kind: str
    external_id: str
    name: str
    handle: str = ""
    followers: int | None = None
    email: str = ""


@dataclass(frozen=True)
class Msg:
    """A message in the thread: from the ticket's customer, another customer, or one of us."""

    at: When
    body: str
    by: str = ""  # username of the agent who wrote an outbound reply; empty = inbound
    author: Author | None = None  # inbound from someone else than the ticket's customer
    channel: str = ""  # slug; the ticket's channel by default
    public: bool | None = None  # default: public on social networks, private elsewhere
    subject: str = ""
    hashtags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Act:
    """One workflow transition, acted by `by` (empty = the system)."""

    transition: str
    by: str = ""
    reason: str = ""
    department: str = ""
    assignee: str = ""
    at: When | None = None  # when it happened, for resolve/close


@dataclass(frozen=True)
class Memo:
    by: str
    body: str


@dataclass(frozen=True)
class Complaint:
    """`by` flags the ticket as a formal complaint: the regulator's clock runs from its start."""

    by: str
    category: str


@dataclass(frozen=True)
class Scenario:
    key: str
    channel: str
    subject: str
    author: Author
    steps: tuple
    context: dict = field(default_factory=dict)
    conversation_key: str = ""


def d(days: float = 0, hours: float = 0, minutes: float = 0) -> timedelta:
    """How long ago."""
    return timedelta(days=days, hours=hours, minutes=minutes)


def x_author(user_id: str, handle: str, name: str, followers: int | None = None) -> Author:
    return Author(Channel.Kind.X, user_id, name, handle=handle, followers=followers)


def fb_author(psid: str, name: str) -> Author:
    return Author(Channel.Kind.FACEBOOK, psid, name)


def ig_author(user_id: str, handle: str, name: str = "") -> Author:
    return Author(Channel.Kind.INSTAGRAM, user_id, name or handle, handle=handle)


def li_author(person: str, name: str) -> Author:
    return Author(Channel.Kind.LINKEDIN, f"urn:li:person:{person}", name)


def mail_author(email: str, name: str) -> Author:
    return Author(Channel.Kind.EMAIL, email, name, email=email)


def phone_author(number: str, name: str) -> Author:
    return Author(Channel.Kind.PHONE, number, name)


def letter_author(address: str, name: str, email: str = "") -> Author:
    return Author(Channel.Kind.LETTER, address, name, email=email)


# The hostile wave (seed 000): a sponsored campaign tweet drew dozens of mocking replies.
WAVE_TAG = "bancachenoncera"
WAVE_TWEET_ID = "1829990000000000001"
WAVE_CONTEXT = {
    "text": (
        "Stiamo costruendo la #bancachenoncera: una banca che ascolta, semplice e trasparente. "
        "Raccontaci la tua idea di banca e vinci un weekend per due 👉 aurora.example/idee"
    ),
    "hashtags": [WAVE_TAG],
    "sponsored": True,
    "post_id": WAVE_TWEET_ID,
    "author": f"@{BRAND_HANDLE}",
}


def wave(n: int, ago: timedelta, author: Author, body: str, *steps) -> Scenario:
    return Scenario(
        key=f"wave-{n:02d}", channel="demo-x", subject=body[:90], author=author,
        steps=(Msg(ago, body, hashtags=(WAVE_TAG,)), *steps), context=WAVE_CONTEXT,
        conversation_key=WAVE_TWEET_ID,
    )


WAVE = [
    wave(1, d(hours=4, minutes=52), x_author("2900000001", "ferro_vecchio", "Luca F.", 2310),
         "#bancachenoncera è quella che mi restituisce le commissioni sul conto? Ah no, quella non c'era davvero."),
    wave(2, d(hours=4, minutes=47), x_author("2900000002", "giuliamarta", "Giulia Marta", 845),
         "La #bancachenoncera è quella che non risponde al numero verde da tre settimane. Ah, siete voi.",
         Act("triage", "agent"), Act("claim", "agent"),
         Msg(d(hours=4, minutes=21), "Ciao Giulia, ci dispiace per l'attesa. Ci scrivi in DM il tuo "
             "numero di pratica? Ti richiamiamo noi entro oggi.", by="agent"),
         Act("wait_for_customer", "agent")),
    wave(3, d(hours=4, minutes=41), x_author("2900000003", "paolo_ecofin", "Paolo — economista", 48200),
         "Sponsorizzate tweet mentre i vostri clienti aspettano la delibera del mutuo da 4 mesi. "
         "Complimenti per il tempismo. #bancachenoncera",
         Act("triage", "agent"), Act("claim", "agent"),
         Memo("agent", "Account con 48k follower, il tweet è già stato ripreso da altri. "
              "Fa parte dell'ondata sotto il tweet sponsorizzato: serve una valutazione del rischio."),
         Act("escalate", "agent", department="risk",
             reason="Ondata di risposte ostili sotto il tweet sponsorizzato #bancachenoncera; "
                    "autore molto seguito. Valutare sospensione della sponsorizzazione.")),
    wave(4, d(hours=4, minutes=30), x_author("2900000004", "marghe_bo", "Margherita"),
         "#bancachenoncera e magari non ci fosse neanche questa."),
    wave(5, d(hours=4, minutes=12), x_author("2900000005", "stefano_pec", "Stefano R.", 410),
         "Una banca che ascolta? Vi ho mandato cinque PEC, zero risposte. #bancachenoncera",
         Act("triage", "agent2"), Act("claim", "agent2"),
         Msg(d(hours=3, minutes=55), "Ciao Stefano, hai ragione ad arrabbiarti: cinque PEC senza "
             "risposta non vanno bene. Scrivici in DM il codice fiscale dell'intestatario e "
             "verifichiamo subito dove si sono fermate.", by="agent2"),
         Act("wait_for_customer", "agent2")),
    wave(6, d(hours=3, minutes=58), x_author("2900000006", "obbligazionista", "Un obbligazionista", 1290),
         "Io un'idea ce l'ho: restituite i soldi a chi avete venduto le subordinate come fossero BOT. "
         "#bancachenoncera",),
    wave(7, d(hours=3, minutes=40), x_author("2900000007", "ironicamente", "ironicamente"),
         "#bancachenoncera perché dopo lo scandalo nessuno ci credeva più 😂"),
    wave(8, d(hours=3, minutes=22), x_author("2900000008", "fede_startup", "Federica Neri", 3100),
         "Bella iniziativa, finalmente una banca che chiede ai clienti cosa vogliono. Ho già mandato "
         "la mia idea! #bancachenoncera",
         Act("triage", "agent"), Act("claim", "agent"),
         Msg(d(hours=3, minutes=5), "Grazie Federica! Leggiamo tutte le proposte, la tua compresa 🙂",
             by="agent"),
         Act("resolve", "agent", at=d(hours=3, minutes=4))),
    wave(9, d(hours=3, minutes=5), x_author("2900000009", "socialwatcher", "Social Watcher", 15800),
         "Ma chi vi cura i social? Leggete le risposte prima di sponsorizzare. #bancachenoncera #epicfail",
         Act("triage", "lead"), Act("claim", "lead")),
    wave(10, d(hours=2, minutes=44), x_author("2900000010", "ilcontoinrosso", "Conto in rosso"),
         "#bancachenoncera = la banca che c'era quando c'era da prendere e non c'era quando c'era da dare."),
    wave(11, d(hours=2, minutes=20), x_author("2900000011", "sara_b_78", "Sara B.", 220),
         "Le commissioni sul conto base sono aumentate del 40% e voi fate i concorsi a premi. "
         "#bancachenoncera",
         Act("triage", "agent"), Act("claim", "agent"),
         Msg(d(hours=1, minutes=58), "Ciao Sara, capiamo. Dal 1° del mese il conto base ha di nuovo "
             "il canone zero per chi ha l'accredito dello stipendio: se vuoi verifichiamo in DM se "
             "ti spetta.", by="agent"),
         Msg(d(hours=1, minutes=40), "Ok, vi scrivo in DM. Grazie della risposta almeno.",
             hashtags=(WAVE_TAG,)),
         Act("resolve", "agent", at=d(hours=1, minutes=35))),
    wave(12, d(hours=1, minutes=51), x_author("2900000012", "nonchiamatemi", "Roberto"),
         "Vorrei una banca che non mi chiami tre volte al giorno per vendermi polizze. Quella sì che "
         "sarebbe la #bancachenoncera",),
    wave(13, d(hours=1, minutes=15), x_author("2900000013", "devmonday", "Irene dev"),
         "Partecipo: la #bancachenoncera è una banca con un'app che funziona il lunedì mattina.",
         Act("triage", "agent2")),
    wave(14, d(minutes=38), x_author("2900000014", "giornalista_eco", "Andrea T. | Economia", 61000),
         "Sto raccogliendo le reazioni al tweet sponsorizzato di @BancaAurora per un pezzo di domani. "
         "La banca vuole commentare? #bancachenoncera",),
    wave(15, d(minutes=12), x_author("2900000015", "tizianomi", "Tiziano"),
         "Complimenti al social media manager, oggi vi state facendo un sacco di amici #bancachenoncera"),
]

# The disabled bay (seed 001): 17:00 complaint, 18:04 public answer, thanks next morning.
ANNA = x_author("3100000001", "annar_soave", "Anna Ruggeri", 530)
DISABLED_BAY = Scenario(
    key="disabled-bay", channel="demo-x",
    subject="Impiegato della filiale di Soave parcheggiato nel posto per disabili",
    author=ANNA,
    steps=(
        Msg(Clock(1, 17, 0), "Ho spiegato al signore di @BancaAurora ufficio di Soave VR che quello "
            "è un posto per disabili e lui ha negato"),
        Msg(Clock(1, 17, 12), "@annar_soave @BancaAurora Complimenti, se i suoi impiegati negano "
            "un'evidenza così palese non oso immaginare i contratti proposti...",
            author=x_author("3100000002", "arturo_vr", "Arturo")),
        Act("triage", "agent"), Act("claim", "agent"),
        Msg(Clock(1, 17, 31), "@annar_soave @BancaAurora e non è la prima volta",
            author=x_author("3100000003", "andreas_gv", "Andreas")),
        Memo("agent", "Chiamato il direttore della filiale di Soave alle 17:40: l'auto è di un "
             "collega, la sposta subito. @lead ti tengo aggiornato."),
        Msg(Clock(1, 18, 4), "Ciao @annar_soave grazie per la segnalazione, ci dispiace "
            "dell'accaduto. L'auto è stata rimossa!", by="agent"),
        Msg(Clock(0, 8, 48), "@BancaAurora grazie per il vostro celere intervento, avete dimostrato "
            "molta attenzione e professionalità"),
        Act("resolve", "agent", at=Clock(0, 8, 55)),
    ),
)

# The sponsored LinkedIn post (seed 002): negative comments, answered only after four days.
LI_POST = "urn:li:share:7100000000000000001"
LI_CONTEXT = {
    "text": (
        "Zakelijke dienstverlening kan groeien door in te spelen op klantbehoeften. "
        "Lees het nieuwe sectorrapport van onze economen."
    ),
    "hashtags": ["sectorrapport"],
    "sponsored": True,
    "post_id": LI_POST,
    "author": "Aurora Bank",
}
LATE = "Excuses dat we pas nu reageren: dat had binnen het uur moeten gebeuren."


def linkedin(n: int, author: Author, ago: timedelta, body: str, *steps) -> Scenario:
    return Scenario(
        key=f"linkedin-{n:02d}", channel="demo-linkedin", subject=body[:90], author=author,
        steps=(Msg(ago, body), *steps), context=LI_CONTEXT, conversation_key=LI_POST,
    )


LINKEDIN = [
    linkedin(1, li_author("AbC1001", "Pieter Jansen"), d(days=5, hours=2),
             "Klantbehoeften? Begin eerst eens met de behoeften van jullie eigen klanten. Ik wacht al "
             "drie weken op een reactie op mijn klacht.",
             Act("triage", "agent2"), Act("claim", "agent2"),
             Msg(d(days=1, hours=3), f"Beste Pieter, {LATE} Drie weken wachten op een klacht is niet "
                 "goed. Ik heb je dossier opgezocht en een collega belt je morgen vóór 12 uur.",
                 by="agent2"),
             Msg(d(hours=20), "Ben gebeld en het is opgelost. Dank, al had het sneller gemoeten."),
             Act("resolve", "agent2", at=d(hours=19))),
    linkedin(2, li_author("AbC1002", "Sanne Visser"), d(days=5, hours=1, minutes=40),
             "Ironisch dat uitgerekend een bank dit schrijft.",
             Act("triage", "agent2"), Act("claim", "agent2"),
             Msg(d(days=1, hours=2), f"Hoi Sanne, {LATE} Het rapport gaat over de sector zakelijke "
                 "dienstverlening, niet over onszelf, maar we begrijpen dat de titel anders overkwam.",
                 by="agent2"),
             Act("resolve", "agent2", at=d(days=1, hours=2)),
             Act("close", "agent2", at=d(hours=2))),
    linkedin(3, li_author("AbC1003", "Mark de Boer"), d(days=5, hours=1),
             "Na alles wat er de afgelopen jaren gebeurd is, hebben jullie het lef om over "
             "klantbehoeften te praten?",
             Act("triage", "agent2"), Act("claim", "agent2"),
             Msg(d(days=1, hours=1), f"Beste Mark, {LATE} We horen graag wat er voor jou beter moet. "
                 "Mogen we je een bericht sturen om het gesprek voort te zetten?", by="agent2"),
             Act("wait_for_customer", "agent2")),
    linkedin(4, li_author("AbC1004", "Lotte Bakker"), d(days=4, hours=23),
             "Interessant rapport, de analyse van de sector is sterk. Jammer van de toon van de "
             "reacties hier.",
             Act("triage", "agent2"), Act("claim", "agent2"),
             Msg(d(days=1), "Dank je wel Lotte! Onze economen lezen mee.", by="agent2"),
             Act("resolve", "agent2", at=d(days=1))),
    linkedin(5, li_author("AbC1005", "Henk Mulder"), d(days=4, hours=22),
             "Twaalf jaar zakelijk klant en mijn accountmanager is in twee jaar vier keer gewisseld. "
             "Dat is mijn klantbehoefte: één vast aanspreekpunt.",
             Act("triage", "agent2"), Act("claim", "agent2"),
             Msg(d(hours=23), f"Beste Henk, {LATE} Ik heb je wens doorgezet naar het team "
                 "Zakelijk; je hoort deze week wie je vaste accountmanager wordt.", by="agent2")),
    linkedin(6, li_author("AbC1006", "Femke Smit"), d(days=4, hours=20),
             "Jullie hebben mijn bedrijf in 2008 een renteswap verkocht die ons bijna failliet heeft "
             "gemaakt. Niemand heeft de risico's uitgelegd. Klantbehoefte?",
             Act("triage", "agent2"), Act("claim", "agent2"),
             Msg(d(hours=22), f"Beste Femke, {LATE} Dit nemen we serieus; we nemen privé contact met "
                 "je op over je dossier.", by="agent2"),
             Act("escalate", "agent2", department="compliance",
                 reason="Klacht over verkoop van een renteswap (2008): mogelijk valt dit onder het "
                        "herstelkader derivaten. Compliance moet het dossier beoordelen.")),
    linkedin(7, li_author("AbC1007", "Joost van Dijk"), d(days=2, hours=6),
             "Wanneer gaat er eindelijk iemand reageren op deze post? Al drie dagen niets.",),
    linkedin(8, li_author("AbC1008", "Eva Meijer"), d(days=1, hours=4),
             "Ik zie dat niemand hier antwoordt. Zegt genoeg over hoe jullie naar klanten luisteren.",),
]

# The refund promised and never paid (seed 004): letter, certified e-mail, then a public post.
REFUND_EMAIL = "marco.bellini@example.it"
REFUND = Scenario(
    key="refund-unpaid", channel="demo-letter",
    subject="Reclamo: rimborso commissioni promesso e mai accreditato",
    author=letter_author("Via Mazzini 14, 37121 Verona VR", "Marco Bellini", REFUND_EMAIL),
    steps=(
        Msg(d(days=96), "Raccomandata A/R. Oggetto: reclamo per addebiti non dovuti.\n\nA seguito del "
            "blocco dell'home banking dal 3 al 9 del mese scorso ho dovuto eseguire sei bonifici allo "
            "sportello, pagando 186,40 euro di commissioni. Chiedo il rimborso integrale.\n\nMarco Bellini",
            subject="Reclamo per addebiti non dovuti"),
        Act("triage", "agent"), Act("claim", "agent"),
        Complaint("agent", "payment_services"),
        Msg(d(days=82), "Gentile sig. Bellini, riconosciamo il disservizio dell'home banking e ci "
            "scusiamo. Provvederemo al rimborso di 186,40 euro sul suo conto entro 30 giorni.\n\n"
            "Ufficio Reclami — Banca Aurora", by="agent", subject="Risposta al reclamo"),
        Memo("agent", "Promesso il rimborso di 186,40 € entro 30 giorni. Richiesta inviata a "
             "Back office pagamenti."),
        Act("resolve", "agent", at=d(days=82)),
        Msg(d(days=41), "Sollecito. Con lettera del mese scorso vi siete impegnati a rimborsare "
            "186,40 euro entro 30 giorni. Ad oggi non ho ricevuto nulla. Attendo riscontro.",
            author=Author(Channel.Kind.CERTIFIED_EMAIL, REFUND_EMAIL, "Marco Bellini",
                          email=REFUND_EMAIL),
            channel="demo-pec", subject="Sollecito rimborso commissioni"),
        Act("customer_replied"),
        Msg(d(days=39), "Gentile sig. Bellini, la pratica di rimborso è in lavorazione presso "
            "l'ufficio competente. Le daremo conferma dell'accredito.", by="agent",
            channel="demo-pec", subject="Re: Sollecito rimborso commissioni"),
        Msg(d(days=1, hours=5), "@BancaAurora tre mesi fa avete riconosciuto l'errore e promesso il "
            "rimborso. Raccomandata, PEC, ora Twitter. Ancora niente. Prossimo passo: Arbitro "
            "Bancario Finanziario e avvocato. #primailcliente",
            author=Author(Channel.Kind.X, "3200000001", "Marco Bellini", handle="marcobellini_vr",
                          followers=980, email=REFUND_EMAIL),
            channel="demo-x", hashtags=("primailcliente",)),
        Memo("agent", "Il rimborso promesso 82 giorni fa non risulta in contabilità: nessuno ha "
             "seguito l'impegno dopo la risposta. Il cliente minaccia ABF e avvocato."),
        Act("escalate", "agent", department="legal",
            reason="Reclamo formale scaduto: rimborso promesso per lettera e mai pagato; il cliente "
                   "annuncia ricorso all'ABF e un avvocato."),
        Act("transfer", "legal", department="complaints-office",
            reason="Nessun contenzioso aperto: l'Ufficio reclami deve disporre subito il rimborso e "
                   "rispondere entro i termini."),
    ),
)

# Employee conduct (HR): confidential once escalated.
HR_CASES = [
    Scenario(
        key="hr-branch-conduct", channel="demo-facebook",
        subject="Consulente della filiale di via Garibaldi: trattamento discriminatorio",
        author=fb_author("7100000000000001", "Amina Haddad"),
        steps=(
            Msg(d(hours=6, minutes=20), "Stamattina alla filiale di via Garibaldi il consulente mi ha "
                "presa in giro davanti a tutti per il mio accento e mi ha detto che \"quelli come me\" "
                "un mutuo non lo ottengono. È questo che insegnate ai vostri dipendenti? Pretendo "
                "delle scuse.", public=False),
            Act("triage", "agent"), Act("claim", "agent"),
            Msg(d(hours=5, minutes=55), "Gentile Amina, ci dispiace molto per quello che ha vissuto: "
                "non è il modo in cui vogliamo trattare nessuno. Abbiamo passato la sua segnalazione "
                "all'ufficio competente, che la contatterà entro domani.", by="agent", public=False),
            Act("escalate", "agent", department="hr",
                reason="Segnalazione su comportamento discriminatorio di un dipendente: di competenza "
                       "HR, riservata."),
            Memo("hr", "Colloquio con la direttrice della filiale fissato per domani alle 9. "
                 "Chiamerò io la cliente dopo il colloquio."),
        ),
    ),
    Scenario(
        key="hr-privacy-gossip", channel="demo-email",
        subject="Medewerker deelt mijn financiële gegevens op een verjaardag",
        author=mail_author("r.hendriks@example.nl", "Ruud Hendriks"),
        steps=(
            Msg(d(days=6, hours=3), "Geachte heer/mevrouw,\n\nEen medewerker van uw kantoor in "
                "Utrecht heeft op een verjaardag aan mijn zus verteld hoeveel schuld ik bij u heb. "
                "Ik vind dit onacceptabel en wil weten welke maatregelen u neemt.\n\nRuud Hendriks",
                subject="Klacht over medewerker"),
            Act("triage", "agent2"), Act("claim", "agent2"),
            Act("escalate", "agent2", department="hr",
                reason="Klacht over gedrag van een medewerker (schending geheimhouding): HR."),
            Act("return_to_care", "hr",
                reason="HR heeft met de medewerker gesproken en maatregelen genomen. Bied de klant "
                       "excuses aan zonder details over de medewerker; het datalek is gemeld bij de "
                       "privacy officer."),
            Msg(d(days=2, hours=4), "Beste heer Hendriks,\n\nDank voor uw melding. Wat u beschrijft "
                "had nooit mogen gebeuren; onze excuses. We hebben intern maatregelen genomen en het "
                "incident gemeld bij onze functionaris gegevensbescherming.\n\nMet vriendelijke "
                "groet,\nSara Lombardi — Klantrelaties", by="hr",
                subject="Re: Klacht over medewerker"),
            Act("resolve", "hr", at=d(days=2, hours=4)),
        ),
    ),
]


def simple(key: str, channel: str, author: Author, subject: str, *steps) -> Scenario:
    return Scenario(key=key, channel=channel, subject=subject, author=author, steps=steps)


EVERYDAY_IT = [
    simple("it-card-blocked-abroad", "demo-facebook", fb_author("7100000000000011", "Lorenzo Greco"),
           "Carta bloccata in vacanza a Lisbona",
           Msg(d(days=8, hours=2), "Buongiorno, la mia carta è stata bloccata dopo un pagamento in "
               "Portogallo, sono a Lisbona e non posso pagare l'hotel. Aiuto!", public=False),
           Act("triage", "agent"), Act("claim", "agent"),
           Msg(d(days=8, hours=1, minutes=45), "Ciao Lorenzo, il blocco è scattato per sicurezza. "
               "L'abbiamo appena rimosso: riprova il pagamento tra cinque minuti.", by="agent",
               public=False),
           Msg(d(days=8, hours=1, minutes=20), "Funziona, grazie mille!", public=False),
           Act("resolve", "agent", at=d(days=8, hours=1)),
           Act("close", "agent", at=d(days=5))),
    simple("it-app-token", "demo-x", x_author("2900000101", "valeria_tn", "Valeria"),
           "L'app chiede di riattivare il token a ogni accesso",
           Msg(d(hours=2, minutes=30), "@BancaAurora da stamattina l'app mi chiede di riattivare il "
               "token ogni volta che la apro. Capita solo a me?"),
           Act("triage", "agent"), Act("claim", "agent"),
           Msg(d(hours=2, minutes=5), "Ciao Valeria, no, non solo a te: i colleghi IT stanno "
               "verificando. Ti aggiorniamo qui appena risolto.", by="agent")),
    simple("it-app-down-1", "demo-instagram", ig_author("17841000000000021", "marti.viaggia"),
           "App bloccata: bonifici non partono",
           Msg(d(minutes=55), "L'app è bloccata da un'ora, i bonifici restano in \"elaborazione\" e "
               "devo pagare l'affitto oggi", public=False)),
    simple("it-app-down-2", "demo-facebook", fb_author("7100000000000022", "Gianni Esposito"),
           "Bonifici fermi in app",
           Msg(d(minutes=47), "Anche a me i bonifici da app non partono. Ma possibile che ogni "
               "lunedì sia così?")),
    simple("it-app-down-3", "demo-x", x_author("2900000103", "mr_pendolare", "Il Pendolare", 120),
           "App non funziona",
           Msg(d(minutes=21), "@BancaAurora app giù? Errore 503 da mezz'ora"),
           Act("triage", "agent2")),
    simple("it-double-debit", "demo-facebook", fb_author("7100000000000031", "Francesca Ricci"),
           "Rata del mutuo addebitata due volte",
           Msg(d(days=1, hours=3), "Questo mese mi avete addebitato due volte la rata del mutuo! "
               "Ora sono in rosso. Voglio una spiegazione.", public=False),
           Act("triage", "agent"), Act("claim", "agent"),
           Msg(d(days=1, hours=2, minutes=30), "Buongiorno Francesca, ci scusiamo: stiamo "
               "verificando un doppio addebito che riguarda alcune rate. Mi conferma le ultime "
               "quattro cifre del conto? Così sblocchiamo lo storno oggi.", by="agent", public=False),
           Act("wait_for_customer", "agent")),
    simple("it-polizza-mutuo", "demo-email", mail_author("davide.colombo@example.it", "Davide Colombo"),
           "Polizza vita presentata come obbligatoria per il mutuo",
           Msg(d(days=3, hours=5), "Buongiorno,\nal momento della firma del mutuo il vostro consulente "
               "mi ha detto che la polizza vita era obbligatoria. Ho scoperto ora che non lo era e che "
               "mi costa 1.200 euro l'anno. Chiedo la restituzione dei premi.\nDavide Colombo",
               subject="Polizza abbinata al mutuo"),
           Act("triage", "agent"), Act("claim", "agent"),
           Msg(d(days=3, hours=2), "Gentile sig. Colombo, abbiamo ricevuto la sua segnalazione e "
               "l'abbiamo affidata all'ufficio Compliance, che verificherà la documentazione "
               "precontrattuale.", by="agent", subject="Re: Polizza abbinata al mutuo"),
           Act("escalate", "agent", department="compliance",
               reason="Possibile vendita abbinata impropria (polizza presentata come obbligatoria).")),
    simple("it-diamanti", "demo-letter", letter_author("Corso Porta Nuova 3, 37122 Verona VR",
                                                       "Teresa Marchetti"),
           "Investimento in diamanti proposto in filiale",
           Msg(d(days=12), "Spett.le Banca, nel 2016 il vostro direttore mi ha proposto diamanti "
               "\"sicuri come un titolo di Stato\". Oggi valgono la metà. Chiedo il rimborso di "
               "quanto investito.\nTeresa Marchetti", subject="Investimento in diamanti"),
           Act("triage", "agent"), Act("claim", "agent"),
           Act("escalate", "agent", department="legal",
               reason="Richiesta di rimborso per diamanti da investimento venduti in filiale."),
           Act("transfer", "legal", department="compliance",
               reason="Nessuna azione legale avviata: è un caso di adeguatezza, tocca a Compliance."),
           Act("return_to_care", "compliance",
               reason="La cliente rientra nel piano di rimborso diamanti 2018. Risponderle con la "
                      "lettera standard del piano e l'importo calcolato (allegato nella pratica)."),
           Msg(d(days=2), "Gentile sig.ra Marchetti, la sua posizione rientra nel piano di "
               "rimborso per i diamanti da investimento. Le invieremo per raccomandata la proposta "
               "con l'importo riconosciuto.", by="agent", subject="Risposta al suo reclamo")),
    simple("it-praise-verona", "demo-instagram", ig_author("17841000000000041", "eli.e.tommi"),
           "Grazie a Laura della filiale di Verona",
           Msg(d(days=9), "Un grazie enorme a Laura della filiale di Verona centro, ci ha seguiti per "
               "il mutuo con una pazienza infinita ❤️ casa nostra è anche merito suo!"),
           Act("triage", "agent"), Act("claim", "agent"),
           Msg(d(days=9) - d(minutes=40), "Che bella notizia, grazie! Lo diciamo subito a Laura 🏡",
               by="agent"),
           Act("resolve", "agent", at=d(days=9) - d(minutes=39)),
           Act("close", "agent", at=d(days=6))),
    simple("it-wish-applepay", "demo-x", x_author("2900000201", "techmatteo", "Matteo", 730),
           "Apple Pay per le carte Banca Aurora",
           Msg(d(days=2, hours=7), "@BancaAurora quando arriva Apple Pay per le vostre carte? "
               "Ormai ce l'hanno tutti."),
           Act("triage", "agent"), Act("claim", "agent"),
           Msg(d(days=2, hours=6), "Ciao Matteo, arriva entro l'estate per le carte di debito; "
               "la tua richiesta l'abbiamo girata al team che ci lavora 📱", by="agent"),
           Act("resolve", "agent", at=d(days=2, hours=6))),
    simple("it-pin-not-received", "demo-phone", phone_author("+393471234567", "Giorgio Fontana"),
           "PIN della nuova carta mai arrivato",
           Msg(d(days=1, hours=6), "Telefonata: il cliente non ha ricevuto il PIN della nuova carta "
               "dopo 15 giorni. Chiede una nuova spedizione."),
           Act("triage", "agent2"), Act("claim", "agent2"),
           Msg(d(days=1, hours=6) - d(minutes=8), "Richiamato: serve la conferma dell'indirizzo di "
               "spedizione, il cliente la manda per e-mail.", by="agent2"),
           Act("wait_for_customer", "agent2")),
    simple("it-phishing-sms", "demo-x", x_author("2900000301", "nonna_rete", "Carla", 95),
           "SMS sospetto a nome Banca Aurora",
           Msg(d(hours=9), "@BancaAurora mi è arrivato un SMS da \"Banca Aurora\" che mi chiede di "
               "confermare i dati con un link. È una truffa vero?"),
           Act("triage", "agent"), Act("claim", "agent"),
           Msg(d(hours=8, minutes=40), "Ciao Carla, sì: è una truffa. Non aprire il link; noi non "
               "chiediamo mai dati o codici via SMS. Grazie per la segnalazione!", by="agent"),
           Act("escalate", "agent", department="risk",
               reason="Campagna di smishing a nome della banca: terza segnalazione oggi.")),
    simple("it-phishing-victim", "demo-phone", phone_author("+393389876543", "Luigi Santoro"),
           "Conto svuotato dopo SMS truffa",
           Msg(d(hours=7, minutes=30), "Telefonata: il cliente ha aperto il link di un SMS truffa "
               "e gli sono stati sottratti 2.300 euro con due bonifici istantanei. Carte e accessi "
               "bloccati durante la chiamata."),
           Act("triage", "agent"), Act("claim", "agent"),
           Memo("agent", "Accessi bloccati, denuncia consigliata. Serve il disconoscimento dei "
                "bonifici: passo a Risk management."),
           Act("escalate", "agent", department="risk",
               reason="Frode con bonifici istantanei dopo smishing: richiesta di richiamo dei fondi.")),
    simple("it-centrale-rischi", "demo-email", mail_author("avv.pagani@example.it", "Avv. Silvia Pagani"),
           "Segnalazione errata in Centrale Rischi",
           Msg(d(days=2, hours=1), "Scrivo per conto del mio assistito, sig. Enrico Gatti. La vostra "
               "banca lo ha segnalato in Centrale Rischi per una rata pagata regolarmente. Vi diffido "
               "dal mantenere la segnalazione; in mancanza agiremo per il risarcimento.\nAvv. "
               "Silvia Pagani", subject="Diffida — segnalazione in Centrale Rischi"),
           Act("triage", "agent"), Act("claim", "agent"),
           Act("escalate", "agent", department="legal",
               reason="Diffida di un avvocato per segnalazione in Centrale Rischi.")),
    simple("it-mutuo-delibera", "demo-facebook", fb_author("7100000000000051", "Alessia Romano"),
           "Delibera del mutuo in attesa da quattro mesi",
           Msg(d(hours=20), "Aspetto la delibera del mutuo da quattro mesi e il rogito è tra dieci "
               "giorni. Nessuno in filiale sa dirmi niente. Cosa devo fare?"),
           Act("triage", "lead"), Act("assign", "lead", assignee="agent2"),
           Msg(d(hours=18), "Ciao Alessia, ti abbiamo scritto in privato: ci pensa il nostro "
               "collega Daan e ti aggiorna entro domani.", by="agent2")),
    simple("it-iban-pensione", "demo-email", mail_author("rosa.ferrara@example.it", "Rosa Ferrara"),
           "Cambio IBAN per l'accredito della pensione",
           Msg(d(days=14), "Buongiorno, come posso comunicare all'INPS il nuovo IBAN per la "
               "pensione?", subject="Nuovo IBAN"),
           Act("triage", "agent"), Act("claim", "agent"),
           Msg(d(days=13, hours=20), "Gentile sig.ra Ferrara, può farlo dal sito INPS oppure in "
               "filiale con il modulo AP03, che le alleghiamo compilato con i dati del conto.",
               by="agent", subject="Re: Nuovo IBAN"),
           Act("resolve", "agent", at=d(days=13, hours=20)),
           Act("close", "agent", at=d(days=10))),
    simple("it-orari-padova", "demo-instagram", ig_author("17841000000000061", "studente.pd"),
           "Filiale di Padova aperta il sabato?",
           Msg(d(days=4, hours=3), "La filiale di Padova in piazza Garibaldi è aperta il sabato "
               "mattina?"),
           Act("triage", "agent"), Act("claim", "agent"),
           Msg(d(days=4, hours=2, minutes=45), "Ciao! Sì, il sabato dalle 9 alle 12:30 🙂", by="agent"),
           Act("resolve", "agent", at=d(days=4, hours=2, minutes=45)),
           Act("close", "agent", at=d(days=1))),
    simple("it-bonifico-istantaneo", "demo-x", x_author("2900000401", "risparmiatore", "Il Risparmiatore"),
           "Commissione sul bonifico istantaneo",
           Msg(d(minutes=18), "@BancaAurora perché mi addebitate 2 euro per un bonifico istantaneo? "
               "Non doveva costare come quello ordinario?")),
    simple("it-atm-card", "demo-x", x_author("2900000402", "turista_vr", "Hannah", 60),
           "Il bancomat di piazza Bra ha trattenuto la carta",
           Msg(d(minutes=33), "@BancaAurora il vostro bancomat in piazza Bra a Verona mi ha "
               "trattenuto la carta, è sabato e la filiale è chiusa. Come faccio?")),
]

EVERYDAY_NL = [
    simple("nl-woekerpolis", "demo-email", mail_author("w.dekker@example.nl", "Willem Dekker"),
           "Beleggingsverzekering: kosten nooit uitgelegd",
           Msg(d(days=7), "Geachte heer/mevrouw,\n\nIn 2001 heb ik via uw bank een "
               "beleggingsverzekering afgesloten. Pas nu zie ik hoeveel kosten er zijn ingehouden; "
               "dat is mij nooit uitgelegd. Ik wil compensatie.\n\nW. Dekker",
               subject="Woekerpolis"),
           Act("triage", "agent2"), Act("claim", "agent2"),
           Act("escalate", "agent2", department="compliance",
               reason="Claim over kosten van een beleggingsverzekering (woekerpolis).")),
    simple("nl-ideal-1", "demo-x", x_author("2900000501", "koen_ondernemer", "Koen", 1500),
           "iDEAL-betalingen mislukken",
           Msg(d(hours=1, minutes=10), "@BancaAurora iDEAL-betalingen mislukken al een uur. Mijn "
               "webshop loopt omzet mis!"),
           Act("triage", "agent2"), Act("claim", "agent2"),
           Msg(d(minutes=58), "Hoi Koen, klopt: er is een storing bij iDEAL-betalingen. We werken "
               "aan een oplossing en melden het hier zodra het weer werkt.", by="agent2")),
    simple("nl-ideal-2", "demo-instagram", ig_author("17841000000000071", "bakkerij.lisa"),
           "Betalen met iDEAL lukt niet",
           Msg(d(minutes=44), "Lukt niet om met iDEAL te betalen, blijft hangen op het laatste "
               "scherm. Storing?")),
    simple("nl-pas-gestolen", "demo-facebook", fb_author("7100000000000081", "Thomas Bos"),
           "Pas gestolen in Amsterdam",
           Msg(d(days=10, hours=4), "Mijn pas is net gestolen in Amsterdam, hoe blokkeer ik hem "
               "zo snel mogelijk??", public=False),
           Act("triage", "agent2"), Act("claim", "agent2"),
           Msg(d(days=10, hours=3, minutes=52), "Hoi Thomas, je pas is nu geblokkeerd. Een nieuwe "
               "pas is onderweg naar je huisadres.", by="agent2", public=False),
           Act("resolve", "agent2", at=d(days=10, hours=3, minutes=50)),
           Act("close", "agent2", at=d(days=7))),
    simple("nl-compliment-chat", "demo-x", x_author("2900000601", "mirjam_utr", "Mirjam", 340),
           "Snel geholpen via de chat",
           Msg(d(days=3, hours=10), "Top geholpen door de chat van @BancaAurora vanavond: binnen "
               "vijf minuten mijn limiet verhoogd 👍"),
           Act("triage", "agent2"), Act("claim", "agent2"),
           Msg(d(days=3, hours=9), "Dank je Mirjam, fijn om te horen! 😊", by="agent2"),
           Act("resolve", "agent2", at=d(days=3, hours=9)),
           Act("close", "agent2", at=d(hours=12))),
    simple("nl-donkere-modus", "demo-instagram", ig_author("17841000000000081", "nachtuil.nl"),
           "Donkere modus in de app",
           Msg(d(days=5, hours=5), "Komt er ooit een donkere modus in jullie app? Mijn ogen 🙏"),
           Act("triage", "agent2"), Act("claim", "agent2"),
           Msg(d(days=5, hours=2), "Goed idee! We hebben het doorgegeven aan het app-team.",
               by="agent2"),
           Act("resolve", "agent2", at=d(days=5, hours=2))),
    simple("nl-hypotheek-offerte", "demo-email", mail_author("s.peters@example.nl", "Saskia Peters"),
           "Offerte oversluiten hypotheek laat op zich wachten",
           Msg(d(days=2, hours=8), "Al drie weken wacht ik op de offerte voor het oversluiten van "
               "mijn hypotheek. Kunt u mij vertellen wat de status is?", subject="Offerte hypotheek"),
           Act("triage", "agent2"), Act("claim", "agent2"),
           Msg(d(days=2, hours=5), "Beste mevrouw Peters, om uw aanvraag te vinden hebben wij uw "
               "dossiernummer nodig (het staat in de bevestigingsmail van de adviseur).",
               by="agent2", subject="Re: Offerte hypotheek"),
           Act("wait_for_customer", "agent2")),
    simple("nl-dubbele-incasso", "demo-phone", phone_author("+31612345678", "Fatima El Amrani"),
           "Dubbele incasso zorgverzekering",
           Msg(d(hours=5), "Telefoon: klant ziet de incasso van haar zorgverzekering twee keer "
               "afgeschreven en wil weten of ze moet storneren."),
           Act("triage", "agent2"), Act("claim", "agent2")),
    simple("nl-advocaat-sommatie", "demo-letter", letter_author("Keizersgracht 200, 1016 DZ Amsterdam",
                                                                "Mr. J. van Leeuwen"),
           "Sommatie namens cliënt: onterecht opgezegde kredietfaciliteit",
           Msg(d(days=4), "Namens mijn cliënt, B.V. De Molen, sommeer ik u binnen veertien dagen de "
               "opzegging van de kredietfaciliteit in te trekken. Bij gebreke daarvan zal ik "
               "rechtsmaatregelen nemen.\nMr. J. van Leeuwen, advocaat", subject="Sommatie"),
           Act("triage", "agent2"), Act("claim", "agent2"),
           Act("escalate", "agent2", department="legal",
               reason="Sommatie van een advocaat over opzegging kredietfaciliteit.")),
    simple("nl-spaarrente", "demo-x", x_author("2900000701", "spaarder_henk", "Henk", 210),
           "Spaarrente weer verlaagd",
           Msg(d(hours=3, minutes=10), "@BancaAurora waarom is de spaarrente alweer verlaagd terwijl "
               "de rente op mijn lening gelijk blijft?")),
]

EVERYDAY_EN = [
    simple("en-card-dublin", "demo-x", x_author("2900000801", "sean_travels", "Seán", 890),
           "Card declined at every ATM in Dublin",
           Msg(d(hours=7), "@BancaAurora my card has been declined at every ATM in Dublin, I'm stuck "
               "without cash. Please help!"),
           Act("triage", "agent"), Act("claim", "agent"),
           Msg(d(hours=6, minutes=48), "Hi Seán, sorry about this. Could you send us a DM with the "
               "last 4 digits of the card? We'll check the block right away.", by="agent"),
           Act("wait_for_customer", "agent")),
    simple("en-annual-statement", "demo-email", mail_author("j.oconnor@example.ie", "James O'Connor"),
           "Annual statement for tax return",
           Msg(d(days=11), "Hello, please send me the annual statement of my savings account for my "
               "tax return. Thanks, James", subject="Annual statement"),
           Act("triage", "agent"), Act("claim", "agent"),
           Msg(d(days=10, hours=21), "Dear James, the statement is now available in your online "
               "banking under Documents → Annual statements. Kind regards, Chiara",
               by="agent", subject="Re: Annual statement"),
           Act("resolve", "agent", at=d(days=10, hours=21)),
           Act("close", "agent", at=d(days=7))),
    simple("en-praise-mortgage", "demo-facebook", fb_author("7100000000000091", "Emily Clarke"),
           "Mortgage overpayment sorted in one call",
           Msg(d(days=6, hours=2), "Shout out to your customer service team, sorted my mortgage "
               "overpayment in one call. Wish every bank was like this!"),
           Act("triage", "agent"), Act("claim", "agent"),
           Msg(d(days=6, hours=1), "Thank you Emily, that made our day! 😊", by="agent"),
           Act("resolve", "agent", at=d(days=6, hours=1)),
           Act("close", "agent", at=d(days=3))),
    simple("en-joint-account", "demo-email", mail_author("priya.shah@example.co.uk", "Priya Shah"),
           "Opening a joint account online",
           Msg(d(days=3, hours=1), "Any plans to let customers open a joint account online? Having "
               "to visit a branch for this is absurd.", subject="Joint account"),
           Act("triage", "agent"), Act("claim", "agent"),
           Msg(d(days=2, hours=22), "Dear Priya, online opening for joint accounts is planned for "
               "the autumn. Until then a video call with a branch advisor works too.",
               by="agent", subject="Re: Joint account"),
           Act("resolve", "agent", at=d(days=2, hours=22))),
    simple("en-premium-account", "demo-email", mail_author("g.wallace@example.co.uk", "George Wallace"),
           "Premium account with travel insurance I cannot use",
           Msg(d(days=9), "I was sold a 'premium' current account with travel insurance. I am 74 and "
               "the insurance does not cover anyone over 70. I want the fees back.",
               subject="Premium account fees"),
           Act("triage", "agent"), Act("claim", "agent"),
           Act("escalate", "agent", department="compliance",
               reason="Packaged account sold to a customer excluded from its insurance."),
           Act("return_to_care", "compliance",
               reason="Confirmed: the product was unsuitable. Refund 14 months of fees (€ 168) and "
                      "move the customer to the standard account; use the 'unsuitable product' "
                      "reply."),
           Msg(d(days=4), "Dear Mr Wallace, you are right: the account should not have been offered "
               "to you. We are refunding 14 months of fees (€ 168) and moving you to our standard "
               "account at no cost.", by="agent", subject="Re: Premium account fees"),
           Act("resolve", "agent", at=d(days=4))),
    simple("en-app-login", "demo-instagram", ig_author("17841000000000091", "kate.in.milan"),
           "Is the app down?",
           Msg(d(minutes=26), "Is the app down? Can't log in since this morning", public=False)),
    simple("en-account-closed", "demo-email", mail_author("d.miller@example.com", "Daniel Miller"),
           "Formal complaint: account closed without notice",
           Msg(d(days=5, hours=6), "This is a formal complaint. Your branch closed my account "
               "without any notice and my salary was returned to my employer. I expect an "
               "explanation and compensation.", subject="Formal complaint"),
           Act("triage", "agent"), Act("claim", "agent"), Complaint("agent", "banking"),
           Act("escalate", "agent", department="complaints-office",
               reason="Formal complaint about an account closure without notice.")),
    simple("en-data-request", "demo-email", mail_author("n.kowalski@example.com", "Nina Kowalski"),
           "Request for a copy of my personal data",
           Msg(d(days=1, hours=9), "Under the GDPR I request a copy of all personal data you hold "
               "about me.", subject="Subject access request"),
           Act("triage", "agent"), Act("claim", "agent")),
    simple("en-fx-fee", "demo-linkedin", li_author("AbC2001", "Oliver Brown"),
           "FX fees on business card",
           Msg(d(hours=4), "Your FX fees on the business card are far above what your website "
               "says. Who can I talk to?")),
]

SCENARIOS: list[Scenario] = [
    *WAVE, DISABLED_BAY, *LINKEDIN, REFUND, *HR_CASES, *EVERYDAY_IT, *EVERYDAY_NL, *EVERYDAY_EN,
]


# --- what a care expert would say --------------------------------------------------------------
# The labels a bank's social-care lead gives each scenario's first message, as the yardstick for
# triage (tests/triage/test_demo_agreement.py). Conventions, from PRODUCT.md and the seeds:
# a hostile or mocking reply under a sponsored campaign post is a reputational risk, high
# (a journalist asking for comment on it: urgent); legal threats and fraud are urgent;
# discrimination, disability, formal complaints, mis-selling, money owed, outages, a customer
# stranded without means of payment and a deadline at risk are high; praise and wishes are low
# (a wish voiced as a grievance: normal); everything else is a normal support request.

@dataclass(frozen=True)
class Expected:
    intent: str
    priority: str
    sentiment: str


EXPECTED_TRIAGE: dict[str, Expected] = {
    "wave-01": Expected("reputational_risk", "high", "negative"),  # sarcasm about fees under the campaign
    "wave-02": Expected("reputational_risk", "high", "negative"),
    "wave-03": Expected("reputational_risk", "high", "negative"),  # 48k followers
    "wave-04": Expected("reputational_risk", "high", "negative"),
    "wave-05": Expected("reputational_risk", "high", "negative"),
    "wave-06": Expected("reputational_risk", "high", "negative"),  # the subordinated-bonds scandal, in public
    "wave-07": Expected("reputational_risk", "high", "negative"),
    "wave-08": Expected("praise", "low", "positive"),
    "wave-09": Expected("reputational_risk", "high", "negative"),
    "wave-10": Expected("reputational_risk", "high", "negative"),
    "wave-11": Expected("reputational_risk", "high", "negative"),
    "wave-12": Expected("reputational_risk", "high", "negative"),  # "quella sì che sarebbe…": ironic
    "wave-13": Expected("reputational_risk", "high", "negative"),  # an app that works on Monday: ironic
    "wave-14": Expected("reputational_risk", "urgent", "neutral"),  # press enquiry, story out tomorrow
    "wave-15": Expected("reputational_risk", "high", "negative"),  # "complimenti…": sarcasm, not praise
    "disabled-bay": Expected("reputational_risk", "high", "negative"),  # public, staff vs. disabled bay
    "linkedin-01": Expected("reputational_risk", "high", "negative"),
    "linkedin-02": Expected("reputational_risk", "high", "negative"),
    "linkedin-03": Expected("reputational_risk", "high", "negative"),
    "linkedin-04": Expected("praise", "low", "positive"),
    "linkedin-05": Expected("wish", "normal", "negative"),
    "linkedin-06": Expected("mis_selling", "high", "negative"),
    "linkedin-07": Expected("reputational_risk", "high", "negative"),
    "linkedin-08": Expected("reputational_risk", "high", "negative"),
    "refund-unpaid": Expected("support_request", "high", "negative"),  # formal complaint, refund
    "hr-branch-conduct": Expected("support_request", "high", "negative"),  # discrimination by staff
    "hr-privacy-gossip": Expected("support_request", "high", "negative"),  # staff broke confidentiality
    "it-card-blocked-abroad": Expected("support_request", "high", "negative"),  # stranded abroad
    "it-app-token": Expected("emerging_problem", "normal", "neutral"),
    "it-app-down-1": Expected("widespread_anomaly", "high", "negative"),
    "it-app-down-2": Expected("widespread_anomaly", "high", "negative"),
    "it-app-down-3": Expected("widespread_anomaly", "high", "negative"),
    "it-double-debit": Expected("support_request", "high", "negative"),
    "it-polizza-mutuo": Expected("mis_selling", "high", "negative"),
    "it-diamanti": Expected("mis_selling", "high", "negative"),
    "it-praise-verona": Expected("praise", "low", "positive"),
    "it-wish-applepay": Expected("wish", "low", "neutral"),
    "it-pin-not-received": Expected("support_request", "normal", "neutral"),
    "it-phishing-sms": Expected("support_request", "urgent", "neutral"),  # fraud attempt, before a click
    "it-phishing-victim": Expected("support_request", "urgent", "negative"),
    "it-centrale-rischi": Expected("support_request", "urgent", "negative"),  # lawyer's formal notice
    "it-mutuo-delibera": Expected("support_request", "high", "negative"),  # months late, deed in 10 days
    "it-iban-pensione": Expected("support_request", "normal", "neutral"),
    "it-orari-padova": Expected("support_request", "normal", "neutral"),
    "it-bonifico-istantaneo": Expected("support_request", "normal", "negative"),
    "it-atm-card": Expected("support_request", "high", "negative"),  # card kept, branch closed
    "nl-woekerpolis": Expected("mis_selling", "high", "negative"),
    "nl-ideal-1": Expected("widespread_anomaly", "high", "negative"),
    "nl-ideal-2": Expected("widespread_anomaly", "high", "negative"),
    "nl-pas-gestolen": Expected("support_request", "urgent", "negative"),
    "nl-compliment-chat": Expected("praise", "low", "positive"),
    "nl-donkere-modus": Expected("wish", "low", "neutral"),
    "nl-hypotheek-offerte": Expected("support_request", "normal", "neutral"),
    "nl-dubbele-incasso": Expected("support_request", "normal", "neutral"),  # the insurer's debit, advice
    "nl-advocaat-sommatie": Expected("support_request", "urgent", "negative"),
    "nl-spaarrente": Expected("support_request", "normal", "negative"),
    "en-card-dublin": Expected("support_request", "high", "negative"),  # stranded abroad without cash
    "en-annual-statement": Expected("support_request", "normal", "neutral"),  # "Thanks" closes a request
    "en-praise-mortgage": Expected("praise", "low", "positive"),
    "en-joint-account": Expected("wish", "normal", "negative"),
    "en-premium-account": Expected("mis_selling", "high", "negative"),
    "en-app-login": Expected("widespread_anomaly", "high", "negative"),
    "en-account-closed": Expected("support_request", "high", "negative"),  # formal complaint
    "en-data-request": Expected("support_request", "high", "neutral"),  # GDPR: a legal deadline
    "en-fx-fee": Expected("support_request", "normal", "negative"),
}


# --- builder ---------------------------------------------------------------------------------


@dataclass
class DemoResult:
    created: int
    existing: int


def _at(when: When, now: datetime) -> datetime:
    if isinstance(when, Clock):
        local_now = timezone.localtime(now, ZoneInfo(DEMO_TIMEZONE))
        # The story runs from one afternoon to the next morning: before 09:00 it is one day earlier.
        shift = 1 if local_now.time() < time(9, 0) else 0
        day = local_now.date() - timedelta(days=when.days_back + shift)
        return datetime.combine(day, time(when.hour, when.minute), ZoneInfo(DEMO_TIMEZONE))
    return now - when


def _external_id(kind: str, key: str, index: int) -> str | None:
    """A stable platform id for a demo message, shaped like the platform's own ids."""
    digest = int(hashlib.sha256(f"{key}:{index}".encode()).hexdigest()[:15], 16)
    if kind == Channel.Kind.X:
        return str(1_800_000_000_000_000_000 + digest % 10**17)
    if kind in (Channel.Kind.FACEBOOK, Channel.Kind.INSTAGRAM):
        return f"{META_PAGE_ID}_{digest % 10**15}"
    if kind == Channel.Kind.LINKEDIN:
        return f"urn:li:comment:({LI_POST},{digest % 10**16})"
    if kind in (Channel.Kind.EMAIL, Channel.Kind.CERTIFIED_EMAIL):
        return f"<{key}.{index}@mail.bank.example>"
    return None


def _identity(author: Author) -> tuple[Customer, Identity]:
    return services.customer_for_identity(
        channel_kind=author.kind, external_id=author.external_id, handle=author.handle,
        display_name=author.name, followers_count=author.followers, email=author.email,
    )


class _Builder:
    """Acts out one scenario after the other through the ticket, triage and SLA services."""

    def __init__(self, org: DemoOrganisation, users: dict, now: datetime):
        self.org, self.users, self.now = org, users, now

    def build(self, scenario: Scenario) -> Ticket:
        first = scenario.steps[0]
        if not isinstance(first, Msg) or first.by:
            raise ValueError(f"demo ticket {scenario.key} must start with the customer's message")
        customer, identity = _identity(scenario.author)
        channel = self.org.channels[scenario.channel]
        created_at = _at(first.at, self.now)
        # A post that starts its own thread is the conversation (X conversation id = root tweet).
        conversation = scenario.conversation_key
        if not conversation and channel.is_public_network:
            conversation = _external_id(channel.kind, scenario.key, 0) or ""
        ticket = services.ticket_create(
            channel=channel, customer=customer, subject=scenario.subject, created_at=created_at,
            conversation_key=conversation, context={**scenario.context, "demo_key": scenario.key},
        )
        thread = _Thread(conversation=conversation, latest=created_at)
        for index, step in enumerate(scenario.steps):
            if isinstance(step, Msg):
                self._message(ticket, scenario.key, index, step, identity, thread)
                if index == 0:
                    # Intake classifies the first message, as ingest does for a new ticket.
                    result = triage_classify(text=step.body, channel=channel, identity=identity,
                                             customer=customer, context=scenario.context)
                    ticket_triage_apply(ticket=ticket, result=result)
            elif isinstance(step, Act):
                ticket = self._act(ticket, step, thread)
            elif isinstance(step, Complaint):
                ticket = ticket_formal_complaint_set(
                    ticket=ticket, category=step.category, actor=self.users[step.by],
                    received_at=created_at,
                )
            else:
                services.note_add(ticket=ticket, author=self.users[step.by], body=step.body)
        return ticket

    def _message(self, ticket, key: str, index: int, step: Msg, identity, thread) -> None:
        channel = self.org.channels[step.channel or ticket.channel.slug]
        at = _at(step.at, self.now)
        thread.latest = max(thread.latest, at)
        public = channel.is_public_network if step.public is None else step.public
        external_id = _external_id(channel.kind, key, index)
        common = {
            "ticket": ticket, "channel": channel, "body": step.body, "created_at": at,
            "is_public": public, "external_id": external_id, "subject": step.subject,
            "hashtags": list(step.hashtags), "conversation_id": thread.conversation,
        }
        if step.by:
            services.message_record(
                direction=Message.Direction.OUT, author_user=self.users[step.by],
                parent_external_id=thread.last_inbound_id, **common,
            )
            return
        author_identity = _identity(step.author)[1] if step.author else identity
        parent = thread.conversation if channel.is_public_network else ""
        services.message_record(
            direction=Message.Direction.IN, author_identity=author_identity,
            parent_external_id="" if parent == external_id else parent, **common,
        )
        thread.last_inbound_id = external_id or ""

    def _act(self, ticket: Ticket, step: Act, thread) -> Ticket:
        params = {}
        if step.department:
            params["department"] = self.org.departments[step.department]
        if step.assignee:
            params["assignee"] = self.users[step.assignee]
        if step.transition in ("resolve", "close"):
            at = _at(step.at, self.now) if step.at is not None else thread.latest
            thread.latest = max(thread.latest, at)
            params["at"] = at
        return services.ticket_transition(
            ticket=ticket, transition=step.transition, actor=self.users.get(step.by),
            reason=step.reason, **params,
        )


@dataclass
class _Thread:
    conversation: str
    latest: datetime
    last_inbound_id: str = ""


def demo_tickets_existing() -> set[str]:
    return set(
        Ticket.objects.filter(context__has_key="demo_key").values_list("context__demo_key", flat=True)
    )


def demo_data_load(*, now: datetime | None = None) -> DemoResult:
    """Create the demo organisation, users and every demo ticket that does not exist yet.

    Idempotent: teams, departments, channels and users are looked up by slug or username and
    tickets by `context["demo_key"]`, so a second run creates nothing.
    """
    now = now or timezone.now()
    with transaction.atomic():
        org = demo_organisation_ensure()
        users = demo_users_ensure(org)
        for user in users.values():
            # Memberships were just written: forget what the policies cached about this user.
            forget_membership(user)
        existing = demo_tickets_existing()
        builder = _Builder(org, users, now)
        created = 0
        for scenario in SCENARIOS:
            if scenario.key in existing:
                continue
            builder.build(scenario)
            created += 1
    return DemoResult(created=created, existing=len(existing))


def demo_counts() -> dict[str, int]:
    """Row counts of what the demo touches (the command prints them; tests compare two runs)."""
    return {
        "users": get_user_model().objects.count(),
        "channels": Channel.objects.count(),
        "customers": Customer.objects.count(),
        "identities": Identity.objects.count(),
        "tickets": Ticket.objects.count(),
        "messages": Message.objects.count(),
        "events": TicketEvent.objects.count(),
    }

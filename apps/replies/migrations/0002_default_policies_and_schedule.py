"""Default approval policies, the starting watch list (it/nl/en), and the outbox sweep schedule.

Leads and compliance change all of these in the browser at /replies/policies/.
"""

from django.db import migrations
from django.utils import timezone

POLICIES = [
    (10, "Escalated tickets", "escalated", [], "all",
     "A department (legal, compliance, risk, HR, complaints office) holds this ticket. What we tell "
     "the customer now can bind the bank, so a compliance reviewer reads it first."),
    (20, "Mis-selling and reputational risk", "intent", ["mis_selling", "reputational_risk"], "all",
     "Replies about how a product was sold, or about something that may make the news, are "
     "checked by compliance before they leave."),
    (30, "Urgent tickets in public", "urgent", [], "public",
     "An urgent ticket is watched by many people; a public answer on it is checked first."),
    (40, "Watch list: money, rates, guarantees, legal terms", "watch_list", [], "all",
     "The reply promises money, quotes rates or uses legal words. Such statements can be read as "
     "binding offers or admissions, so a second person looks first."),
    (50, "Authors in training", "in_training", [], "all",
     "Replies by colleagues in training are read by a second person before they go out."),
]

PAY = "Promising a refund or payment commits the bank to pay."
GUARANTEE = "A guarantee is a legal commitment."
RATES = "Rates and fees quoted in public are binding offers."
LEGAL = "Legal terms: the matter may become a dispute; Legal decides what we say."
COMPENSATION = "Compensation is decided by Legal, never promised in a reply."
OMBUDSMAN = "Naming the ombudsman or a complaints body is a regulated statement."

TERMS = [
    ("any", r"(?:€|\beur\b|\beuro\b)\s?\d|\d[\d.,]*\s?(?:€|\beur\b|\beuro\b)", True,
     "An amount of money: a stated sum can be read as a promise to pay."),
    ("any", r"\d+(?:[.,]\d+)?\s?%", True, "A percentage: " + RATES),
    ("en", r"\bguarantee(?:s|d|ing)?\b", True, GUARANTEE),
    ("en", r"\brefund(?:s|ed|ing)?\b|\breimburs\w*|\bwe(?: will|'ll) (?:pay|cover|credit)\b", True, PAY),
    ("en", r"\bcompensat\w*", True, COMPENSATION),
    ("en", r"\b(?:lawyers?|attorneys?|solicitors?|legal action|lawsuits?|court)\b", True, LEGAL),
    ("en", r"\binterest rates?\b|\brates?\b|\bAPR\b", True, RATES),
    ("en", "ombudsman", False, OMBUDSMAN),
    ("it", r"\bgarant\w*", True, "Garanzia: " + GUARANTEE),
    ("it", r"\brimbors\w*|\baccredit(?:eremo|iamo|ato)\b", True, "Rimborso: " + PAY),
    ("it", r"\brisarci\w*|\bindennizz\w*", True, "Risarcimento, indennizzo: " + COMPENSATION),
    ("it", r"\bavvocat\w*|\btribunale\b|\bdenunc\w*|\bvie legali\b", True, LEGAL),
    ("it", r"\btass[oi]\b|\bTAN\b|\bTAEG\b|\binteressi\b", True, "Tassi: " + RATES),
    ("it", r"\barbitro bancario\b|\bABF\b", True, OMBUDSMAN),
    ("nl", r"\bgarande\w*|\bgarantie\w*", True, "Garantie: " + GUARANTEE),
    ("nl", r"\bterugbetal\w*|\bterugstort\w*", True, "Terugbetaling: " + PAY),
    ("nl", r"\bschadevergoeding\w*|\bcompensatie\w*|\bvergoed\w*", True,
     "Schadevergoeding: " + COMPENSATION),
    ("nl", r"\badvoca\w*|\brechtszaak\w*|\brechter\b|\bjuridisch\w*", True, LEGAL),
    ("nl", r"\brente\w*", True, "Rente: " + RATES),
    ("nl", "Kifid", False, OMBUDSMAN),
]

TASK_NAME = "replies: re-queue lost outbox rows"


def forwards(apps, schema_editor):
    ApprovalPolicy = apps.get_model("replies", "ApprovalPolicy")
    WatchTerm = apps.get_model("replies", "WatchTerm")
    for order, name, rule, intents, scope, explanation in POLICIES:
        ApprovalPolicy.objects.get_or_create(
            name=name,
            defaults={"order": order, "rule": rule, "intents": intents, "scope": scope,
                      "explanation": explanation},
        )
    for language, pattern, is_regex, note in TERMS:
        WatchTerm.objects.get_or_create(
            language=language, pattern=pattern, defaults={"is_regex": is_regex, "note": note}
        )

    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME,
        defaults={"task": "apps.replies.tasks.outbox_requeue_stale", "interval": every_minute,
                  "enabled": True,
                  "description": "Publishes replies whose publish task was lost (worker or broker died)."},
    )
    # Beat re-reads its schedule when this timestamp changes.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("replies", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]

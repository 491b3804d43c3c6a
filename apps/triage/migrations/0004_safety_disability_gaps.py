"""Shipped defaults, third round: cues the first two lists missed in Dutch and Italian.

Dutch past participles put "ge-" before the stem ("gediscrimineerd" escapes "discrimin*");
blind or deaf customers and screen readers in Dutch and Italian; dangers told as what they are
(fire, exposed cables, a knife, a robbery) rather than with the word "danger"; customers talked
into a product. Idempotent like 0003: only missing rows are added, a lead's edits survive.
"""

from django.db import migrations

KEYWORDS = [
    ("priority", "urgent", 3, "safety", {
        "en": ["on fire", "caught fire", "knife", "gun", "armed", "robbery", "robbed", "assault*",
               "exposed wires", "electric shock", r"re:\b(someone|somebody)\b[^.!?]{0,20}\bget hurt\b"],
        "it": ["incendio", "in fiamme", "cavi scoperti", "fili scoperti", "scossa", "coltello", "pistola",
               "armat*", "rapina*", "aggredit*", "aggression*", r"re:\bsi (farà|fara|può fare|puo fare) male\b"],
        "nl": ["in brand", "brandt", "vlammen", "rookontwikkeling", "losse kabels", "stroomdraden",
               "elektrische schok", "mes", "pistool", "gewapend*", "overval*", "beroofd", "mishandel*",
               "aangevallen"],
    }),
    ("priority", "high", 2, "discrimination", {
        "nl": ["gediscrimineerd", "achtergesteld"],
        "it": ["discriminat*", "razzist*"],
    }),
    ("priority", "high", 2, "disability", {
        "en": ["screen reader", "visually impaired", "hard of hearing", "hearing impaired"],
        "it": ["cieco", "cieca", "ipovedent*", "sordo", "sorda", "sordi", "accessibil*", "barriere architettoniche",
               "lettore di schermo", "screen reader"],
        "nl": ["blind", "blinde", "doven", "dove", "slechthorend*", "toegankelijk*", "ontoegankelijk*",
               "schermlezer", "screenreader", "visuele beperking", "auditieve beperking"],
    }),
    ("intent", "mis_selling", 3, "", {
        "en": ["pressured into", "pressured me", "talked me into", "talked into", "pushed into"],
        "it": ["mi hanno convinto a", "mi hanno fatto firmare", "hanno fatto firmare", "pressioni per"],
        "nl": ["aangepraat", "overgehaald", "onder druk gezet", "liet me tekenen"],
    }),
]

ROUTE_KEYWORDS = {
    "Discrimination and disability: suggest Compliance": [
        "gediscrimineerd", "non vedent*", "ontoegankelijk*", "schermlezer", "screen reader",
        "barriere architettoniche",
    ],
}


def add_rules(apps, schema_editor):
    KeywordRule = apps.get_model("triage", "KeywordRule")
    existing = set(KeywordRule.objects.values_list("language", "aspect", "pattern", "target"))
    rows = {}
    for aspect, target, weight, note, by_language in KEYWORDS:
        for language, words in by_language.items():
            for word in words:
                is_regex = word.startswith("re:")
                pattern = word[3:] if is_regex else word
                key = (language, aspect, pattern, target)
                if key not in existing and key not in rows:
                    rows[key] = KeywordRule(
                        language=language, aspect=aspect, pattern=pattern, target=target, weight=weight,
                        note=note, is_regex=is_regex,
                    )
    KeywordRule.objects.bulk_create(rows.values())
    RoutingRule = apps.get_model("triage", "RoutingRule")
    for name, words in ROUTE_KEYWORDS.items():
        for rule in RoutingRule.objects.filter(name=name):
            current = [k.strip() for k in rule.keywords.replace("\n", ",").split(",") if k.strip()]
            missing = [w for w in words if w not in current]
            if missing:
                rule.keywords = ", ".join([*current, *missing])
                rule.save(update_fields=["keywords"])


class Migration(migrations.Migration):
    dependencies = [("triage", "0003_generalised_rules")]

    operations = [migrations.RunPython(add_rules, migrations.RunPython.noop)]

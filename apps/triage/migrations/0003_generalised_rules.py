"""Shipped defaults, second round: what the first keyword lists missed on real care traffic.

Measured against a care expert's labels on the demo's 65 messages (tests/triage/
test_demo_agreement.py): irony and mockery ("grazie per niente", "ah no", "het lef", "epic
fail"), grievances without swear words (waiting for weeks, "zero risposte", "alweer"), outages
("app giù", "anche a me", "betalingen mislukken"), wishes asked as questions ("komt er ooit",
"any plans"), requests ("please send", "wil weten", "chiedo"), mis-selling told as a story
("nobody explained", "ho scoperto"), press enquiries, lawyers writing for a client, customers
stranded without means of payment, data-protection requests, and months-long waits.

Idempotent like 0002: only missing rows are added, and a shipped weight is changed only while it
still has the value 0002 gave it, so a lead's edits survive. Reversing leaves the rows in place.
"""

from django.db import migrations

# (aspect, target, weight, note, {language: [keywords]}); "*" ends a keyword with any ending,
# "re:" starts a regular expression (matched case-insensitively on the original text).
MONTHS = r"(?:\d+|due|tre|quattro|cinque|sei|sette|otto|nove|dieci|undici|dodici|molti|diversi)"
MAANDEN = r"(?:\d+|twee|drie|vier|vijf|zes|zeven|acht|negen|tien|elf|twaalf|een paar|vele)"
MONTHS_EN = r"(?:\d+|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|several|many)"

KEYWORDS = [
    # --- priority ---------------------------------------------------------------------------
    ("priority", "urgent", 3, "legal threat", {
        "en": ["on behalf of my client", "legal proceedings", "cease and desist", "letter before action"],
        "it": ["diffid*", "per conto del mio assistito", "per conto della mia assistita", "mio assistito",
               "mia assistita", "agiremo per vie legali", "adiremo", "atto di citazione", "decreto ingiuntivo"],
        "nl": ["namens mijn cliënt", "namens mijn client", "namens cliënt", "sommeer*", "sommatie",
               "rechtsmaatregelen", "gerechtelijke stappen", "kort geding"],
    }),
    ("priority", "urgent", 3, "press enquiry", {
        "en": ["for comment", "for a story", "for an article", "press enquiry", "press inquiry",
               "working on a story", "newsroom"],
        "it": ["per un pezzo", "per un articolo", "vuole commentare", "volete commentare", "redazione",
               "per un servizio"],
        "nl": ["voor een artikel", "voor een stuk", "wil reageren", "wilt reageren", "redactie",
               "voor de krant"],
    }),
    ("priority", "high", 2, "discrimination", {
        "en": ["people like me", "because of my accent", "my accent", "because i am foreign", "because of my race"],
        "it": ["quelli come me", "quelle come me", "per il mio accento", "mio accento", "perché sono straniero",
               "perché sono straniera", "per il colore della pelle"],
        "nl": ["mensen zoals ik", "mijn accent", "vanwege mijn afkomst", "omdat ik buitenlander"],
    }),
    ("priority", "high", 2, "data protection", {
        "en": ["gdpr", "personal data", "data breach", "subject access", "privacy breach"],
        "it": ["gdpr", "dati personali", "violazione della privacy", "segreto bancario", "riservatezza"],
        "nl": ["avg", "persoonsgegevens", "datalek", "inzageverzoek", "geheimhouding", "bankgeheim"],
    }),
    ("priority", "high", 2, "stranded without money", {
        "en": ["stuck without", "stranded", "without cash", "can't pay", "cannot pay", "unable to pay",
               "swallowed my card", "kept my card", "retained my card", r"re:\bneed to pay\b[^.!?]{0,30}\btoday\b"],
        "it": ["non posso pagare", "non riesco a pagare", "senza contanti", "senza soldi", "bloccato all'estero",
               "bloccata all'estero", "trattenuto la carta", "mangiato la carta",
               r"re:\bdevo pagare\b[^.!?]{0,30}\boggi\b"],
        "nl": ["kan niet betalen", "kan niets betalen", "zonder geld", "zonder contant geld", "sta zonder",
               "pas ingeslikt", "pas ingehouden", r"re:\bmoet\b[^.!?]{0,30}\bvandaag betalen\b"],
    }),
    ("priority", "high", 2, "waiting for months", {
        "en": [rf"re:\bfor {MONTHS_EN} months\b", "for months"],
        "it": [rf"re:\bda {MONTHS} mesi\b", "da mesi"],
        "nl": [rf"re:\bal {MAANDEN} maanden\b", "al maanden", rf"re:\b{MAANDEN} maanden (wacht|wachten)\b"],
    }),
    ("priority", "high", 1, "money owed", {
        "en": ["compensation", "fees back", "my money back"],
        "it": ["risarciment*", "restituite i soldi", "rivoglio i miei soldi", r"re:\baddebitat[oaie] due volte\b"],
        "nl": ["compensatie", "schadevergoeding", "mijn geld terug"],
    }),
    # --- intent -----------------------------------------------------------------------------
    ("intent", "support_request", 2, "", {
        "en": ["please send", "can you send", "could you", "can you", "i request", "i need", "i expect",
               "i want to know", "who can i talk to", "what should i do", "not received", "never arrived",
               "declined"],
        "it": ["chiedo", "il cliente chiede", "la cliente chiede", "voglio", "vorrei sapere", "pretendo", "potete", "mi serve", "cosa devo fare",
               "come faccio", "non ho ricevuto", "non ha ricevuto", "mai arrivat*", "non è arrivat*"],
        "nl": ["wil weten", "kunt u", "kunnen jullie", "graag", "verzoek", "ik wil", "wat moet ik",
               "niet ontvangen", "nooit ontvangen", "hoe blokkeer ik"],
    }),
    ("intent", "emerging_problem", 2, "", {
        "en": ["since this afternoon", "since last night", "for an hour", "only me", "just me"],
        "it": ["da un'ora", "da mezz'ora", "da stamani", "da stasera", "capita solo a me", "solo a me"],
        "nl": ["al een uur", "sinds vanmiddag", "sinds vannacht", "alleen bij mij", "ligt het aan mij"],
    }),
    ("intent", "widespread_anomaly", 3, "", {
        "en": ["app down", "site down", "is the app down", "same here", "payments failing",
               "payments are failing", r"re:\berror 5\d\d\b"],
        "it": ["app giù", "app è bloccata", "app bloccata", "anche a me", "bonifici non partono",
               "non partono", "pagamenti non passano", r"re:\berrore 5\d\d\b"],
        "nl": ["betalingen mislukken", "mislukken", "ligt eruit", "bij mij ook", "ook bij mij",
               r"re:\bfout(code)? 5\d\d\b"],
    }),
    ("intent", "mis_selling", 3, "", {
        "en": ["i was sold", "was sold a", "nobody explained", "never explained", "not explained",
               "payment protection", "interest rate swap", "packaged account", "unsuitable", "only now i found out",
               "i just found out"],
        "it": ["ho scoperto ora", "ho scoperto solo ora", "ho scoperto adesso", "era obbligatori*",
               "presentata come obbligatoria", "non era obbligatori*", "diamanti", "obbligazioni subordinate",
               "subordinat*", "sicuri come", "inadeguat*"],
        "nl": [r"re:\b(niemand|nooit|niet)\b[^.!?]{0,40}\b(uitgelegd|verteld)\b", "renteswap*",
               "rentederivat*", "beleggingsverzekering*", "beleggingspolis", "ongeschikt", "pas nu zie ik",
               "pas nu ontdekt"],
    }),
    ("intent", "reputational_risk", 3, "", {
        "en": ["social media manager", "who runs your social", "epic fail", "epicfail", "#fail",
               "ironic", "says it all", "says a lot", "you have the nerve", "for a story", "for comment"],
        "it": ["social media manager", "chi vi cura i social", "epicfail", "epic fail", "#fail", "figuraccia",
               "sponsorizza*", "per un pezzo", "per un articolo", "vuole commentare", "pubblicità ingannevole"],
        "nl": ["social media manager", "ironisch", "het lef", "zegt genoeg", "dat zegt genoeg",
               "gesponsord*", "voor een artikel", "lachwekkend"],
    }),
    ("intent", "wish", 2, "", {
        "en": ["any plans", "are there plans", "will you ever", "when will you add", "would be nice", "please add"],
        "it": ["ce l'hanno tutti", "ce l'hanno già tutti", "avete in programma", "pensate di introdurre",
               "quando introdurrete", "sarebbe bello", "mi piacerebbe"],
        "nl": ["komt er ooit", "zijn er plannen", "wanneer komt er", "het zou fijn zijn", "ik mis"],
    }),
    ("intent", "praise", 2, "", {
        "en": ["shout out", "shoutout", "interesting", "great job", "big thanks", "thank you so much"],
        "it": ["bella iniziativa", "bell'iniziativa", "ottima iniziativa", "un grazie", "grazie mille",
               "grazie di cuore", "professionalità"],
        "nl": ["top geholpen", "prima geholpen", "fijn geholpen", "interessant*", "heel fijn", "dank je wel"],
    }),
    # --- sentiment --------------------------------------------------------------------------
    ("sentiment", "negative", 3, "irony or mockery", {
        "en": ["thanks for nothing", "yeah right", "epic fail", "epicfail", "says it all", "says a lot",
               "what a joke", "nice try", "oh the irony", "you have the nerve"],
        "it": ["grazie per niente", "grazie di niente", "ah no", "ah, siete voi", "quella sì che", "epicfail",
               "epic fail", "figuraccia", "bella figura", "come no", "ma chi vi cura", "presa in giro",
               "preso in giro", "prendete in giro"],
        "nl": ["bedankt voor niets", "ironisch", "het lef", "zegt genoeg", "lekker bezig", "wat een grap",
               "lachwekkend", "om te huilen"],
    }),
    ("sentiment", "negative", 2, "grievance", {
        "en": ["still nothing", "no response", "nobody answers", "no one answers", "yet again", "once again",
               "absurd", "without notice", "without any notice", "stuck", "scandal*"],
        "it": ["zero risposte", "non risponde", "nessuna risposta", "nessuno risponde", "ancora niente",
               "ancora nulla", "per l'ennesima volta", "ennesim*", "scandal*", "non dovut*", "in rosso",
               "vergognatevi", "assurd*"],
        "nl": ["alweer", "weer eens", "zoveelste", "niemand antwoordt", "niemand reageert", "geen reactie",
               "niets gehoord", "onterecht*", "eindelijk iemand"],
    }),
    ("sentiment", "negative", 2, "legal threat or stranded", {
        "en": ["legal action", "lawyer", "i will sue", "stuck without", "stranded", "swallowed my card"],
        "it": ["diffid*", "avvocat*", "vie legali", "non posso pagare", "trattenuto la carta", "mangiato la carta"],
        "nl": ["advocaat", "sommeer*", "rechtsmaatregelen", "kan niet betalen", "sta zonder", "pas ingeslikt"],
    }),
    ("sentiment", "negative", 1, "waiting or failing", {
        "en": [rf"re:\bfor {MONTHS_EN} (weeks|months)\b", "still waiting", "not working", "can't log in",
               "cannot log in", "declined", "stolen"],
        "it": [rf"re:\bda {MONTHS} (mesi|settimane)\b", "non funziona", "non partono", "non riesco",
               "bloccat*", "errore", "rubat*", "non posso"],
        "nl": [rf"re:\bal {MAANDEN} (weken|maanden|dagen)\b", "werkt niet", "lukt niet", "mislukken",
               "mislukt", "gestolen", "storing", "loopt omzet mis"],
    }),
    ("sentiment", "positive", 2, "", {
        "en": ["shout out", "sorted", "interesting"],
        "it": ["bella iniziativa", "professionalità", "celere", "merito suo"],
        "nl": ["top geholpen", "interessant*"],
    }),
]

# (language, aspect, pattern, target, weight 0002 shipped, new weight): a bare "thanks" closes
# requests as often as it praises, so it weighs less than "please send" or "bravi".
WEIGHTS = [
    ("en", "intent", "thanks", "praise", 2, 1),
    ("en", "intent", "thank you", "praise", 2, 1),
    ("it", "intent", "grazie", "praise", 2, 1),
    ("nl", "intent", "bedankt", "praise", 2, 1),
    ("nl", "intent", "dank je", "praise", 2, 1),
    ("nl", "intent", "dank u", "praise", 2, 1),
]

# Routing rules that get the new words too (added to whatever keywords the rule has now).
ROUTE_KEYWORDS = {
    "Legal threats: suggest Legal": [
        "diffid*", "mio assistito", "mia assistita", "atto di citazione", "on behalf of my client",
        "cease and desist", "sommeer*", "sommatie", "rechtsmaatregelen", "namens mijn cliënt",
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
    for language, aspect, pattern, target, shipped, weight in WEIGHTS:
        KeywordRule.objects.filter(
            language=language, aspect=aspect, pattern=pattern, target=target, weight=shipped,
        ).update(weight=weight)
    RoutingRule = apps.get_model("triage", "RoutingRule")
    for name, words in ROUTE_KEYWORDS.items():
        for rule in RoutingRule.objects.filter(name=name):
            current = [k.strip() for k in rule.keywords.replace("\n", ",").split(",") if k.strip()]
            missing = [w for w in words if w not in current]
            if missing:
                rule.keywords = ", ".join([*current, *missing])
                rule.save(update_fields=["keywords"])


class Migration(migrations.Migration):
    dependencies = [("triage", "0002_default_rules")]

    operations = [migrations.RunPython(add_rules, migrations.RunPython.noop)]

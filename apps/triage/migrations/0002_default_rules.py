"""Shipped defaults: multilingual (it, nl, en) keyword lists and routing rules.

Leads tune them in the admin; this migration only adds what is missing, so a lead's edits to
weights or a rule switched off survive a re-run.
"""

from django.db import migrations

# (aspect, target, weight, note, {language: [keywords]}); "*" ends a keyword with any ending.
KEYWORDS = [
    ("priority", "urgent", 3, "legal threat", {
        "en": ["lawyer", "lawyers", "attorney", "solicitor", "legal action", "lawsuit", "sue you",
               "i will sue", "class action", "take you to court", "court"],
        "it": ["avvocat*", "azione legale", "vie legali", "querela", "denuncia", "denuncerò",
               "class action", "tribunale", "causa legale", "diffida"],
        "nl": ["advocaat", "advocaten", "juridische stappen", "rechtszaak", "rechter", "aangifte",
               "ingebrekestelling", "dagvaarding"],
    }),
    ("priority", "urgent", 3, "fraud", {
        "en": ["fraud*", "scam*", "phishing", "identity theft", "stolen", "unauthorised", "unauthorized",
               "hacked"],
        "it": ["truffa", "truffe", "truffat*", "frode", "frodi", "raggir*", "phishing", "furto", "rubat*",
               "clonat*", "addebiti non autorizzati"],
        "nl": ["fraude", "oplichting", "opgelicht", "oplichters", "phishing", "gestolen", "diefstal",
               "gehackt", "onbevoegd*"],
    }),
    ("priority", "urgent", 3, "safety", {
        "en": ["safety", "unsafe", "danger*", "threat*", "injured", "suicid*", "gas leak"],
        "it": ["sicurezza", "pericol*", "minacc*", "ferit*", "suicid*", "fuga di gas"],
        "nl": ["veiligheid", "onveilig", "gevaar*", "bedreig*", "gewond", "zelfmoord", "gaslek"],
    }),
    ("priority", "high", 2, "discrimination", {
        "en": ["discriminat*", "racis*", "sexis*", "harass*"],
        "it": ["discrimina*", "razzis*", "sessis*", "molest*"],
        "nl": ["discrimin*", "racis*", "seksis*", "intimidatie"],
    }),
    ("priority", "high", 2, "disability", {
        "en": ["disabil*", "disabled", "wheelchair", "blind", "deaf", "accessib*"],
        "it": ["disabil*", "invalid*", "handicap*", "sedia a rotelle", "non vedent*", "non udent*",
               "posto riservato"],
        "nl": ["gehandicapt*", "handicap*", "beperking", "invalide*", "rolstoel", "slechtziend*", "doof"],
    }),
    ("priority", "high", 2, "regulator or formal complaint", {
        "en": ["ombudsman", "regulator", "formal complaint", "fca", "financial ombudsman"],
        "it": ["reclamo", "banca d'italia", "arbitro bancario", "abf", "ivass", "consob", "agcom",
               "antitrust"],
        "nl": ["klacht indienen", "formele klacht", "kifid", "afm", "autoriteit consument",
               "geschillencommissie"],
    }),
    ("priority", "high", 1, "money owed", {
        "en": ["refund*", "reimburse*", "charged twice", "double charge*", "money back"],
        "it": ["rimbors*", "addebitat* due volte", "doppio addebito", "soldi indietro", "restituzione"],
        "nl": ["terugbetaling", "terugstorting", "geld terug", "dubbel afgeschreven", "restitutie"],
    }),
    ("intent", "support_request", 2, "", {
        "en": ["help", "how do i", "how can i", "can't log in", "cannot log in", "locked out", "blocked",
               "not working", "doesn't work", "does not work", "error", "problem with", "issue with",
               "still waiting", "no answer", "no reply", "nobody answers", "refund*"],
        "it": ["aiuto", "come faccio", "come posso", "non riesco", "bloccat*", "non funziona", "errore",
               "problema", "ancora in attesa", "sto aspettando", "nessuna risposta", "nessuno risponde",
               "assistenza", "rimbors*"],
        "nl": ["help", "hoe kan ik", "hoe moet ik", "lukt niet", "geblokkeerd", "werkt niet", "foutmelding",
               "probleem", "wacht nog", "geen antwoord", "geen reactie", "niemand neemt op",
               "klantenservice", "terugbetaling"],
    }),
    ("intent", "emerging_problem", 2, "", {
        "en": ["since yesterday", "since this morning", "suddenly", "after the update", "new update",
               "keeps crashing", "crash*", "since the update"],
        "it": ["da ieri", "da stamattina", "all'improvviso", "dopo l'aggiornamento", "nuovo aggiornamento",
               "si blocca", "crash*", "si chiude da sola"],
        "nl": ["sinds gisteren", "sinds vanochtend", "ineens", "opeens", "na de update", "sinds de update",
               "crasht", "loopt vast"],
    }),
    ("intent", "widespread_anomaly", 3, "", {
        "en": ["outage", "is down", "app down", "down for everyone", "anyone else", "nobody can",
               "all customers"],
        "it": ["disservizio", "disservizi", "tutti i clienti", "anche a voi", "anche voi", "non va a nessuno",
               "app down", "sito down", "fuori servizio", "è giù"],
        "nl": ["storing", "storingen", "ligt eruit", "ligt plat", "ook bij jullie",
               "bij meer mensen", "niemand kan"],
    }),
    ("intent", "mis_selling", 3, "", {
        "en": ["mis-sold", "missold", "mis-selling", "never told me", "wasn't told", "was not told",
               "hidden fees", "hidden costs", "sold me", "pushed me into", "without my consent",
               "didn't explain", "fine print"],
        "it": ["non mi hanno detto", "nessuno mi ha detto", "non mi avevano detto", "costi nascosti",
               "commissioni nascoste", "mi hanno venduto", "polizza abbinata", "senza il mio consenso",
               "non mi hanno spiegato", "mi hanno fatto firmare"],
        "nl": ["niet verteld", "nooit verteld", "verborgen kosten", "aangesmeerd", "woekerpolis",
               "zonder mijn toestemming", "niet uitgelegd", "kleine lettertjes"],
    }),
    ("intent", "reputational_risk", 3, "", {
        "en": ["shame on", "disgrace*", "scandal*", "boycott*", "never again", "worst bank",
               "journalist*", "tell everyone", "going viral", "thieves"],
        "it": ["vergogna", "vergognatevi", "scandal*", "boicott*", "mai più", "banca peggiore",
               "giornalist*", "lo dirò a tutti", "ladri", "striscia la notizia"],
        "nl": ["schande", "schandalig", "boycot*", "nooit meer", "slechtste bank", "journalist*",
               "kassa", "oplichters", "graaiers", "zakkenvullers"],
    }),
    ("intent", "wish", 2, "", {
        "en": ["it would be great", "please add", "i wish", "would love", "suggestion", "feature request",
               "could you add"],
        "it": ["sarebbe bello", "sarebbe utile", "vorrei che", "suggerimento", "potreste aggiungere",
               "proposta"],
        "nl": ["zou fijn zijn", "zou mooi zijn", "ik zou graag", "suggestie", "wens"],
    }),
    ("intent", "praise", 2, "", {
        "en": ["thank you", "thanks", "great service", "well done", "amazing", "excellent",
               "so helpful", "kudos", "resolved", "sorted", "fixed it"],
        "it": ["grazie", "ottimo servizio", "complimenti", "bravi", "gentilissim*", "efficientissim*",
               "fantastic*", "risolto", "risolta"],
        "nl": ["bedankt", "dank je", "dank u", "top service", "goed geholpen", "snel geholpen",
               "compliment*", "geweldig", "opgelost"],
    }),
    ("sentiment", "negative", 2, "", {
        "en": ["angry", "furious", "terrible", "awful", "disgusting", "unacceptable", "ridiculous", "worst",
               "shame", "disappointed", "fed up", "useless", "thieves", "scam*", "never again", "outrage*"],
        "it": ["vergogna", "schifo", "pessim*", "inaccettabile", "ridicol*", "delus*", "arrabbiat*",
               "incompetent*", "ladri", "vergognoso", "indecente", "stufo", "stufa", "mai più", "assurdo",
               "truffa"],
        "nl": ["schande", "schandalig", "belachelijk", "onacceptabel", "waardeloos", "slecht*", "teleurgesteld", "boos",
               "woedend", "zakkenvullers", "oplichters", "nooit meer", "bagger", "klote", "spuugzat"],
        "any": ["😡", "🤬", "👎", "😤"],
    }),
    ("sentiment", "positive", 2, "", {
        "en": ["thank*", "great", "excellent", "love", "amazing", "happy", "helpful", "perfect",
               "well done"],
        "it": ["grazie", "ottim*", "bravi", "gentil*", "content*", "soddisfatt*", "perfett*",
               "fantastic*", "complimenti"],
        "nl": ["bedankt", "dank*", "top", "super", "geweldig", "blij", "tevreden", "perfect", "fijn",
               "compliment*"],
        "any": ["🙏", "👏", "❤️", "😊", "👍"],
    }),
]

ROUTES = [
    {
        "order": 10, "name": "Legal threats: suggest Legal", "department_kind": "legal",
        "keywords": "lawyer, attorney, solicitor, legal action, lawsuit, sue you, class action, avvocat*, "
                    "azione legale, vie legali, querela, diffida, advocaat, juridische stappen, rechtszaak, "
                    "ingebrekestelling",
    },
    {
        "order": 20, "name": "Fraud: suggest Risk management", "department_kind": "risk",
        "keywords": "fraud*, scam*, phishing, identity theft, truffa, truffat*, frode, clonat*, fraude, "
                    "oplichting, opgelicht, gestolen",
    },
    {
        "order": 30, "name": "Employee conduct: HR, confidential", "department_kind": "hr", "confidential": True,
        "keywords": "harass*, bully*, sexual*, molest*, mobbing, seksuele intimidatie, gepest, intimidatie",
    },
    {
        "order": 40, "name": "Discrimination and disability: suggest Compliance", "department_kind": "compliance",
        "keywords": "discriminat*, discrimina*, discrimin*, racis*, razzis*, disabil*, invalidità, invalido, "
                    "invalida, invalidi, gehandicapt*, wheelchair, sedia a rotelle, rolstoel",
    },
    {
        "order": 50, "name": "Mis-selling: suggest Compliance", "department_kind": "compliance",
        "intent": "mis_selling",
    },
    {
        "order": 60, "name": "Regulator named: suggest Complaints office", "department_kind": "complaints_office",
        "keywords": "ombudsman, banca d'italia, arbitro bancario, ivass, consob, kifid, autoriteit consument, "
                    "formal complaint, reclamo formale, formele klacht",
    },
]


def add_defaults(apps, schema_editor):
    KeywordRule = apps.get_model("triage", "KeywordRule")
    RoutingRule = apps.get_model("triage", "RoutingRule")
    existing = set(KeywordRule.objects.values_list("language", "aspect", "pattern", "target"))
    rows = {}
    for aspect, target, weight, note, by_language in KEYWORDS:
        for language, words in by_language.items():
            for word in words:
                key = (language, aspect, word, target)
                if key not in existing and key not in rows:
                    rows[key] = KeywordRule(
                        language=language, aspect=aspect, pattern=word, target=target, weight=weight, note=note,
                    )
    KeywordRule.objects.bulk_create(rows.values())
    names = set(RoutingRule.objects.values_list("name", flat=True))
    RoutingRule.objects.bulk_create(RoutingRule(**route) for route in ROUTES if route["name"] not in names)


def remove_defaults(apps, schema_editor):
    KeywordRule = apps.get_model("triage", "KeywordRule")
    RoutingRule = apps.get_model("triage", "RoutingRule")
    for aspect, target, _weight, _note, by_language in KEYWORDS:
        for language, words in by_language.items():
            KeywordRule.objects.filter(language=language, aspect=aspect, target=target, pattern__in=words).delete()
    RoutingRule.objects.filter(name__in=[route["name"] for route in ROUTES]).delete()


class Migration(migrations.Migration):
    dependencies = [("triage", "0001_initial")]

    operations = [migrations.RunPython(add_defaults, remove_defaults)]

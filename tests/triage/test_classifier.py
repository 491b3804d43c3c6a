"""Triage of real-looking posts in Italian, Dutch and English, and the rules behind it."""

from dataclasses import replace

import pytest
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string

from apps.accounts.models import Department
from apps.tickets.models import Channel, TicketEvent
from apps.triage.classifiers import TriageResult, get_classifier
from apps.triage.explain import render_explanation
from apps.triage.models import KeywordRule, RoutingRule
from apps.triage.services import ticket_priority_raise, ticket_triage_apply, triage_classify
from tests.factories import ChannelFactory, CustomerFactory, IdentityFactory, TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def x(world):
    return world.channel


def classify(text, channel, **kwargs):
    """The result with its reasons as text (in English, the tests' language), easier to assert on."""
    result = triage_classify(text=text, channel=channel, **kwargs)
    return replace(result, explanation=render_explanation(result.explanation))


def classify_raw(text, channel, **kwargs):
    """The result as the classifier returns it and a ticket stores it: reasons language-neutral."""
    return triage_classify(text=text, channel=channel, **kwargs)


# --- real-looking posts ------------------------------------------------------------------------

def test_italian_hashtag_backlash_is_a_reputational_risk(x):
    result = classify("#bancachenoncera ma quale banca che non c'era, siete la solita banca dei ladri. Vergogna!", x)
    assert (result.language, result.intent, result.sentiment) == ("it", "reputational_risk", "negative")
    assert "Italian" in result.explanation["language"][0]
    assert any("ladri" in reason for reason in result.explanation["intent"])


def test_italian_disabled_bay_complaint_is_high_and_suggests_compliance(x, world):
    result = classify(
        "Un vostro dipendente ha parcheggiato di nuovo nel posto riservato ai disabili davanti alla filiale "
        "di via Roma. Complimenti per il rispetto.", x,
    )
    assert result.language == "it" and result.priority == "high"
    assert result.department == world.compliance
    assert any("disabili" in reason for reason in result.explanation["priority"])
    assert any("Compliance" in reason for reason in result.explanation["routing"])


def test_italian_thanks_the_next_morning_is_low_priority_praise(x):
    result = classify("Grazie @BancaEsempio, auto spostata in dieci minuti. Così si fa, bravi!", x)
    assert (result.intent, result.sentiment, result.priority) == ("praise", "positive", "low")


def test_italian_unpaid_refund_with_a_lawyer_is_urgent_for_legal(x, world):
    result = classify(
        "Dopo due mesi il rimborso promesso per i ritardi non è ancora arrivato. Se non ricevo nulla entro "
        "venerdì mi rivolgo a un avvocato.", x,
    )
    assert result.priority == "urgent" and result.department == world.legal
    assert result.explanation["suggested_department"] == {"id": world.legal.pk, "name": "Legal"}
    assert any("avvocato" in reason and "legal threat" in reason for reason in result.explanation["priority"])


def test_dutch_campaign_backlash(x):
    result = classify("Klantbehoeften? Jullie zijn gewoon zakkenvullers. Ik wacht al vier dagen op antwoord.", x)
    assert (result.language, result.intent, result.sentiment) == ("nl", "reputational_risk", "negative")


def test_dutch_outage_is_a_widespread_anomaly(x):
    result = classify("Storing bij internetbankieren? Ik kan sinds vanochtend niet inloggen, ook bij jullie?", x)
    assert (result.language, result.intent) == ("nl", "widespread_anomaly")


def test_dutch_fraud_is_urgent_for_risk(x, world):
    result = classify("Mijn rekening is geplunderd door fraude, er is 2000 euro afgeschreven. Ik doe aangifte.", x)
    assert result.priority == "urgent" and result.department == world.risk
    assert result.language == "nl"


def test_dutch_praise(x):
    result = classify("Super snel geholpen door jullie medewerker in Utrecht, bedankt!", x)
    assert (result.intent, result.sentiment, result.priority) == ("praise", "positive", "low")


def test_english_mis_selling_suggests_compliance(x, world):
    result = classify(
        "I was never told about the early repayment fee when you sold me this mortgage. Hidden costs everywhere.", x,
    )
    assert (result.language, result.intent) == ("en", "mis_selling")
    assert result.department == world.compliance


def test_english_discrimination_is_high(x):
    result = classify("Your staff refused to serve my mother because she uses a wheelchair. That is discrimination.", x)
    assert result.priority == "high"


@pytest.mark.parametrize("text, language, priority, cue", [
    ("Il bancomat della filiale di piazza Dante ha i cavi scoperti, prima o poi qualcuno si farà male.",
     "it", "urgent", "safety"),
    ("De geldautomaat bij het station staat in brand, er komt rook uit!", "nl", "urgent", "safety"),
    ("There's a man with a knife outside your branch on High Street, staff have locked the doors.",
     "en", "urgent", "safety"),
    ("Ik werd in jullie filiaal gediscrimineerd vanwege mijn hoofddoek. Schandalig.", "nl", "high",
     "discrimination"),
    ("Ik ben blind en jullie nieuwe app werkt niet met mijn schermlezer.", "nl", "high", "disability"),
    ("Sono cieca e la vostra app non funziona con il lettore di schermo, non riesco a fare un bonifico.",
     "it", "high", "disability"),
])
def test_safety_discrimination_and_disability_told_in_everyday_words(x, text, language, priority, cue):
    result = classify(text, x)
    assert (result.language, result.priority) == (language, priority)
    assert any(cue in reason for reason in result.explanation["priority"])


def test_dutch_discrimination_suggests_compliance(x, world):
    result = classify("Mijn vader werd aan de balie gediscrimineerd omdat hij slecht Nederlands spreekt.", x)
    assert result.department == world.compliance


def test_english_customer_pressured_into_a_product_is_mis_selling(x):
    result = classify("My elderly mother was pressured into buying an investment product she doesn't understand.", x)
    assert (result.intent, result.priority) == ("mis_selling", "high")


def test_english_harassment_by_staff_is_confidential_for_hr(x, world):
    result = classify("One of your branch managers keeps harassing me with phone calls at 11pm.", x)
    assert result.confidential and result.department == world.hr
    assert any("confidential" in reason for reason in result.explanation["routing"])


def test_english_wish(x):
    assert classify("It would be great if you could add Apple Pay to the app.", x).intent == "wish"


def test_short_texts_take_the_language_of_their_keyword(x):
    assert classify("bedankt", x).language == "nl"
    assert classify("grazie!", x).language == "it"
    reason = classify("bedankt", x).explanation["language"][0]
    assert "bedankt" in reason and "Dutch" in reason


def test_short_text_without_keyword_uses_the_customers_language(x):
    customer = CustomerFactory(language="nl")
    result = classify("ok", x, customer=customer)
    assert result.language == "nl" and "customer" in result.explanation["language"][0]


def test_language_is_restricted_to_the_configured_set(x, settings):
    settings.TRIAGE_LANGUAGES = ["it", "en"]
    result = classify("Ik wacht al drie weken op mijn terugbetaling, dit is echt onacceptabel.", x)
    assert result.language in ("it", "en")


def test_accents_and_typographic_apostrophes_do_not_matter(x):
    result = classify("PERCHE nessuno mi ha detto dei COSTI NASCOSTI?", x)
    assert result.intent == "mis_selling"
    assert classify("MAI PIU con voi, ladri", x).intent == "reputational_risk"  # keyword "mai più"
    assert classify("dopo l’aggiornamento l’app si blocca", x).intent == "emerging_problem"


# --- reach, repeated contact, routing ----------------------------------------------------------

def test_author_reach_raises_priority_unless_positive(x):
    identity = IdentityFactory(followers_count=15_000)
    result = classify("Ancora nessuna risposta dalla vostra assistenza", x, identity=identity)
    assert result.priority == "high"
    assert any("15,000 followers" in reason for reason in result.explanation["priority"])
    assert classify("Grazie mille, tutto risolto!", x, identity=identity).priority == "low"
    huge = IdentityFactory(followers_count=400_000)
    assert classify("Ancora nessuna risposta dalla vostra assistenza", x, identity=huge).priority == "urgent"


def test_repeated_contact_raises_priority_one_level(x, world):
    customer = CustomerFactory()
    assert classify("La carta è bloccata", x, customer=customer).priority == "normal"
    world.ticket(customer=customer)
    world.ticket(customer=customer)
    result = classify("La carta è bloccata", x, customer=customer)
    assert result.priority == "high"
    assert any("Repeated contact: 2 earlier tickets" in reason for reason in result.explanation["priority"])


def test_team_comes_from_a_routing_rule_or_the_channel(x, world):
    assert classify("La carta è bloccata", x).team == world.care
    RoutingRule.objects.create(name="Dutch desk", order=5, language="nl", team=world.other_team)
    result = classify("Mijn pas is geblokkeerd en niemand neemt op.", x)
    assert result.team == world.other_team
    assert any("Dutch desk" in reason and "Retail Care" in reason for reason in result.explanation["routing"])


def test_routing_conditions_all_have_to_hold(x, world):
    linkedin = ChannelFactory(kind=Channel.Kind.LINKEDIN, slug="li", team=world.care)
    RoutingRule.objects.create(name="LinkedIn urgent", order=1, channel_kind="linkedin", min_priority="urgent",
                               team=world.other_team)
    text = "Ik overweeg juridische stappen, mijn advocaat is ingeschakeld."
    assert classify(text, linkedin).team == world.other_team
    assert classify(text, x).team == world.care
    assert classify("Mijn pas werkt niet", linkedin).team == world.care


def test_missing_department_is_explained(x, world):
    Department.objects.filter(kind="legal").delete()
    result = classify("Mi rivolgo al mio avvocato", x)
    assert result.department is None
    assert any("no such department" in reason for reason in result.explanation["routing"])


# --- rules leads edit ----------------------------------------------------------------------------

def test_fresh_database_has_the_multilingual_defaults():
    patterns = set(KeywordRule.objects.values_list("pattern", flat=True))
    for word in ("lawyer", "avvocat*", "advocaat", "fraud*", "truffa", "frode", "oplichting", "discriminat*",
                 "disabil*", "gehandicapt*", "safety", "sicurezza", "veiligheid", "refund*", "rimbors*",
                 "terugbetaling", "grazie", "bedankt", "hidden costs", "costi nascosti", "aangesmeerd"):
        assert word in patterns, word
    assert {"it", "nl", "en"} <= set(KeywordRule.objects.values_list("language", flat=True))
    assert RoutingRule.objects.filter(department_kind="hr", confidential=True).exists()


def test_an_edited_rule_applies_at_once(x):
    text = "Il vostro chatbot è inutile"
    assert classify(text, x).sentiment == "neutral"
    rule = KeywordRule.objects.create(language="it", aspect="sentiment", pattern="inutil*", target="negative",
                                      weight=3)
    assert classify(text, x).sentiment == "negative"
    rule.is_active = False
    rule.save()
    assert classify(text, x).sentiment == "neutral"


def test_regex_rules(x):
    KeywordRule.objects.create(aspect="priority", pattern=r"\bIT\d{2}[A-Z]\d{10}", is_regex=True, target="high",
                               note="IBAN posted in public")
    result = classify("Rimborsatemi su IT60X0542811101000000123456 subito", x)
    assert result.priority == "high" and "IBAN posted in public" in " ".join(result.explanation["priority"])


@pytest.mark.parametrize("fields, field", [
    ({"aspect": "intent", "target": "urgent"}, "target"),
    ({"aspect": "priority", "target": "high", "pattern": "([", "is_regex": True}, "pattern"),
    ({"aspect": "priority", "target": "high", "language": "xx"}, "language"),
    ({"aspect": "priority", "target": "high", "pattern": "*"}, "pattern"),
    ({"aspect": "priority", "target": "high", "weight": 11}, "weight"),
])
def test_keyword_rule_validation(fields, field):
    rule = KeywordRule(**{"pattern": "word", "language": "any", **fields})
    with pytest.raises(ValidationError) as error:
        rule.full_clean()
    assert field in error.value.message_dict


def test_routing_rule_needs_an_outcome():
    with pytest.raises(ValidationError):
        RoutingRule(name="Does nothing", keywords="x").full_clean()


def test_admin_pages_for_rules(client, world):
    client.force_login(world.admin)
    assert client.get("/admin/triage/keywordrule/?aspect=priority").status_code == 200
    assert client.get("/admin/triage/routingrule/").status_code == 200
    response = client.post("/admin/triage/keywordrule/add/", {
        "pattern": "ombudsman*", "aspect": "priority", "target": "high", "language": "en", "weight": 2,
        "note": "regulator", "is_active": "on",
    })
    assert response.status_code == 302
    assert KeywordRule.objects.filter(pattern="ombudsman*", note="regulator").exists()
    bad = client.post("/admin/triage/keywordrule/add/", {
        "pattern": "x", "aspect": "intent", "target": "urgent", "language": "en", "weight": 1,
    })
    assert bad.status_code == 200 and KeywordRule.objects.filter(pattern="x").count() == 0


# --- plugging a classifier in ------------------------------------------------------------------

class ModelClassifier:
    def classify(self, *, text, channel, identity=None, customer=None):
        return TriageResult(language="en", intent="wish", sentiment="positive", priority="low", team=None,
                            department=None, confidential=False, explanation={"intent": ["model says so"]})


def test_classifier_is_pluggable_by_setting(x, settings):
    settings.TRIAGE_CLASSIFIER = "tests.triage.test_classifier.ModelClassifier"
    assert isinstance(get_classifier(), ModelClassifier)
    assert triage_classify(text="anything", channel=x).explanation == {"intent": ["model says so"]}


# --- storing results -----------------------------------------------------------------------------

def test_apply_stores_fields_and_audits(x, world):
    ticket = world.ticket(state="new")
    result = classify_raw("Mi rivolgo al mio avvocato per la truffa subita", x)
    ticket_triage_apply(ticket=ticket, result=result)
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.language, ticket.team) == ("urgent", "it", world.care)
    assert ticket.triage_explanation == result.explanation
    event = TicketEvent.objects.get(ticket=ticket, kind="triage")
    assert event.data["priority"] == "urgent" and event.data["suggested_department"] == "Legal"
    assert ticket.state == "new"


def test_apply_never_lifts_confidentiality(x, world):
    ticket = world.ticket(state="open", confidential=True)
    ticket_triage_apply(ticket=ticket, result=classify_raw("La carta è bloccata", x))
    ticket.refresh_from_db()
    assert ticket.confidential


def test_priority_raise_never_lowers(x, world):
    ticket = TicketFactory(channel=x, team=world.care, priority="high", state="open")
    assert not ticket_priority_raise(ticket=ticket, result=classify_raw("Grazie!", x))
    assert ticket_priority_raise(ticket=ticket, result=classify_raw("Vi denuncio, truffatori", x))
    ticket.refresh_from_db()
    assert ticket.priority == "urgent"


# --- the explanation partial -------------------------------------------------------------------

def test_explanation_partial_renders_every_aspect(x, world):
    ticket = world.ticket(state="new")
    ticket_triage_apply(ticket=ticket, result=classify_raw("Mi rivolgo al mio avvocato, è una truffa", x))
    html = render_to_string("triage/_explanation.html", {"ticket": ticket})
    for label in ("Language", "Intent", "Sentiment", "Priority", "Team", "Suggested escalation", "Legal",
                  "avvocato"):
        assert label in html, label
    assert "triage/triage.css" in html


def test_explanation_partial_escapes_and_handles_untriaged(world):
    ticket = world.ticket(state="new", triage_explanation={"intent": ["<script>alert(1)</script>"]})
    html = render_to_string("triage/_explanation.html", {"ticket": ticket})
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "not triaged" in render_to_string("triage/_explanation.html", {"ticket": world.ticket()})


# --- irony, campaigns, requests, outages (migration 0003) ------------------------------------

SPONSORED = {"text": "Raccontaci la tua idea di banca", "hashtags": ["bancachenoncera"], "sponsored": True}


@pytest.mark.parametrize("text", [
    "Grazie per niente, è la terza volta che vi scrivo.",
    "Thanks for nothing, the app is still broken.",
    "Bedankt voor niets, alweer geen reactie van jullie.",
])
def test_sarcastic_thanks_is_not_praise(x, text):
    result = classify(text, x)
    assert result.intent != "praise" and result.sentiment == "negative"
    assert result.priority != "low"


def test_praise_next_to_a_complaint_reads_as_irony(x):
    result = classify("Complimenti, zero risposte da tre settimane.", x)
    assert (result.intent, result.sentiment) == ("support_request", "negative")
    assert any("irony" in reason for reason in result.explanation["intent"])


def test_a_negative_reply_under_a_sponsored_post_is_a_reputational_risk(x):
    text = "La banca che ascolta? Nessuno risponde al numero verde da settimane."
    assert classify(text, x).intent == "support_request"
    result = triage_classify(text=text, channel=x, context=SPONSORED)
    assert (result.intent, result.priority) == ("reputational_risk", "high")
    reasons = render_explanation(result.explanation)["intent"]
    assert any("sponsored post (#bancachenoncera)" in reason for reason in reasons)


def test_questions_and_real_problems_under_a_campaign_keep_their_intent(x):
    assert triage_classify(text="Come partecipo al concorso?", channel=x, context=SPONSORED).intent == \
        "support_request"
    outage = triage_classify(text="App giù da stamattina, anche a me non funziona niente", channel=x,
                             context=SPONSORED)
    assert outage.intent == "widespread_anomaly"
    praise = triage_classify(text="Bella iniziativa, bravi!", channel=x, context=SPONSORED)
    assert (praise.intent, praise.priority) == ("praise", "low")


def test_thanks_closing_a_request_is_not_praise(x):
    result = classify("Could you send me a new PIN for my debit card? Thanks, Mark", x)
    assert (result.language, result.intent, result.priority) == ("en", "support_request", "normal")


def test_dutch_payments_failing_is_a_widespread_anomaly_and_high(x):
    result = classify("Bij mij ook: betalingen mislukken al een uur, klanten kunnen niet afrekenen.", x)
    assert (result.language, result.intent, result.priority) == ("nl", "widespread_anomaly", "high")
    assert any("Widespread anomaly: at least High" in reason for reason in result.explanation["priority"])


def test_italian_wish_asked_as_a_question_is_low(x):
    result = classify("Avete in programma Google Pay per le carte di debito? Ormai ce l'hanno tutti.", x)
    assert (result.language, result.intent, result.priority) == ("it", "wish", "low")


def test_english_press_enquiry_is_urgent(x):
    result = classify("I'm a reporter working on a story about your branch closures. Any comment for "
                      "comment by 5pm?", x)
    assert (result.intent, result.priority) == ("reputational_risk", "urgent")


def test_italian_lawyer_writing_for_a_client_is_urgent_for_legal(x, world):
    result = classify("Scrivo per conto della mia assistita: vi diffido dal proseguire con gli addebiti.", x)
    assert result.priority == "urgent" and result.department == world.legal


def test_dutch_mis_selling_told_as_a_story(x, world):
    result = classify("Pas nu zie ik wat de polis kost. Niemand heeft mij de kosten ooit uitgelegd.", x)
    assert (result.language, result.intent, result.priority) == ("nl", "mis_selling", "high")
    assert result.sentiment == "negative" and result.department == world.compliance


def test_english_stranded_customer_and_gdpr_request_are_high(x):
    assert classify("Card declined everywhere in Rome, I'm stuck without cash. Please help!", x).priority == "high"
    assert classify("Under the GDPR please send me all personal data you hold.", x).priority == "high"


def test_months_of_waiting_is_high(x):
    assert classify("Aspetto la risposta al reclamo da tre mesi.", x).priority == "high"
    assert classify("Aspetto la risposta da tre giorni.", x).priority == "normal"


def test_intent_priority_floor_is_a_setting(x, settings):
    settings.TRIAGE_INTENT_PRIORITY = {}
    result = classify("I was sold a packaged account I never needed.", x)
    assert (result.intent, result.priority) == ("mis_selling", "normal")


def test_generalised_defaults_are_idempotent_and_keep_a_leads_weights():
    from django.apps import apps

    from tests.triage.rules import generalised

    thanks = KeywordRule.objects.get(language="en", aspect="intent", pattern="thanks", target="praise")
    assert thanks.weight == 1
    thanks.weight = 5
    thanks.save()
    count = KeywordRule.objects.count()
    generalised.add_rules(apps, None)
    assert KeywordRule.objects.count() == count
    thanks.refresh_from_db()
    assert thanks.weight == 5
    assert KeywordRule.objects.filter(pattern__startswith=r"\bda ", is_regex=True, language="it").exists()
    legal = RoutingRule.objects.get(name="Legal threats: suggest Legal")
    assert legal.keyword_list.count("diffid*") == 1 and "avvocat*" in legal.keyword_list

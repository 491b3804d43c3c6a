"""Shipped defaults: four canned replies every team gets, in Italian, Dutch and English.

Shared replies (no team) are managed by administrators; leads add their team's own.
Running the migration again (or on a database that already has them) creates nothing twice.
"""

from django.db import migrations

DEFAULTS = {
    "it": [
        ("Scuse per l'attesa", "Ciao {customer_name}, ci scusiamo per l'attesa. Abbiamo preso in carico la tua "
                               "segnalazione ({ticket_ref}) e ti aggiorniamo al più presto. {agent_first_name}"),
        ("Passiamo in privato", "Ciao {customer_name}, per proteggere i tuoi dati continuiamo in privato: "
                                "ti abbiamo scritto in messaggio diretto. {agent_first_name}"),
        ("Ci stiamo lavorando", "Ciao {customer_name}, stiamo verificando con i colleghi e ti rispondiamo entro "
                                "oggi. Riferimento: {ticket_ref}. {agent_first_name}"),
        ("Grazie del feedback", "Grazie {customer_name}, il tuo messaggio ci aiuta a migliorare: l'abbiamo "
                                "girato al team competente. {agent_first_name}"),
    ],
    "nl": [
        ("Excuses voor het wachten", "Hallo {customer_name}, excuses dat het even duurde. We hebben je melding "
                                     "opgepakt ({ticket_ref}) en houden je op de hoogte. Groet, {agent_first_name}"),
        ("Verder in een privébericht", "Hallo {customer_name}, om je gegevens te beschermen gaan we verder in een "
                                       "privébericht. Groet, {agent_first_name}"),
        ("We zoeken het uit", "Hallo {customer_name}, we zoeken dit voor je uit en komen vandaag nog bij je "
                              "terug. Referentie: {ticket_ref}. Groet, {agent_first_name}"),
        ("Bedankt voor je feedback", "Bedankt {customer_name}! We hebben je feedback doorgegeven aan het juiste "
                                     "team. Groet, {agent_first_name}"),
    ],
    "en": [
        ("Sorry for the wait", "Hi {customer_name}, sorry for the wait. We have picked up your message "
                               "({ticket_ref}) and will keep you posted. {agent_first_name}"),
        ("Move to a private message", "Hi {customer_name}, to keep your details safe we will continue in a "
                                      "private message. {agent_first_name}"),
        ("Looking into it", "Hi {customer_name}, we are looking into this with our colleagues and will get back "
                            "to you today. Reference: {ticket_ref}. {agent_first_name}"),
        ("Thanks for the feedback", "Thanks {customer_name}! We have passed your feedback on to the right team. "
                                    "{agent_first_name}"),
    ],
}


def forwards(apps, schema_editor):
    CannedReply = apps.get_model("workspace", "CannedReply")
    for language, replies in DEFAULTS.items():
        for name, body in replies:
            CannedReply.objects.get_or_create(
                team=None, language=language, name=name, defaults={"body": body, "is_active": True}
            )


class Migration(migrations.Migration):
    dependencies = [("workspace", "0002_search_indexes")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

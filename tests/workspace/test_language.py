"""The interface language: the user's saved preference wins, else the browser's; the switch saves it."""

import pytest


def lang_of(html: str) -> str:
    return html.split('<html lang="', 1)[1].split('"', 1)[0]


@pytest.mark.django_db
def test_browser_negotiation_for_a_user_without_preference(world, client):
    world.agent.language = ""
    world.agent.save()
    client.force_login(world.agent)
    html = client.get("/tickets/", headers={"Accept-Language": "nl-NL,nl;q=0.9,en;q=0.5"}).content.decode()
    assert lang_of(html) == "nl" and ">Wachtrij<" in html
    html = client.get("/tickets/", headers={"Accept-Language": "fr-FR"}).content.decode()
    assert lang_of(html) == "en" and ">Queue<" in html


@pytest.mark.django_db
def test_saved_preference_wins_over_the_browser(world, client):
    world.agent.language = "nl"
    world.agent.save()
    client.force_login(world.agent)
    html = client.get("/tickets/", headers={"Accept-Language": "it"}).content.decode()
    assert lang_of(html) == "nl" and "Uitloggen" in html


@pytest.mark.django_db
def test_switching_language_saves_the_preference_and_returns_to_the_page(world, client):
    world.agent.language = "it"
    world.agent.save()
    client.force_login(world.agent)
    response = client.post("/workspace/language/", {"language": "nl", "next": "/tickets/?view=mine"})
    assert response.status_code == 302 and response["Location"] == "/tickets/?view=mine"
    world.agent.refresh_from_db()
    assert world.agent.language == "nl"
    assert lang_of(client.get("/tickets/").content.decode()) == "nl"


@pytest.mark.django_db
def test_switch_refuses_unknown_languages_and_foreign_redirects(world, client):
    client.force_login(world.agent)
    before = world.agent.language
    response = client.post("/workspace/language/", {"language": "xx", "next": "https://evil.example/"})
    assert response.status_code == 302 and "evil.example" not in response["Location"]
    world.agent.refresh_from_db()
    assert world.agent.language == before
    assert client.get("/workspace/language/").status_code == 405


@pytest.mark.django_db
def test_anonymous_visitors_switch_by_cookie(client):
    response = client.post("/workspace/language/", {"language": "nl", "next": "/accounts/login/"})
    assert response.status_code == 302
    html = client.get("/accounts/login/").content.decode()
    assert lang_of(html) == "nl"

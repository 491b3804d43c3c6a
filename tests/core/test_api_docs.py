"""/api/docs/: Swagger UI from our own static files, under a policy with no inline script."""

import re

from django.conf import settings
from django.contrib.staticfiles import finders


def _urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]*)"', html)


def test_swagger_ui_loads_only_our_static_files_and_its_own_script(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    urls = _urls(html)
    assert any(url.endswith("swagger-ui-bundle.js") for url in urls)
    assert "http://" not in html and "https://" not in html and "cdn" not in html.lower()
    for url in urls:
        assert url.startswith((settings.STATIC_URL, "/api/docs/?")), url
        if url.startswith(settings.STATIC_URL):
            # Shipped by drf-spectacular-sidecar, so collectstatic and WhiteNoise serve it.
            assert finders.find(url.removeprefix(settings.STATIC_URL)), url
    assert "<script>" not in html  # the set-up script is a request of its own


def test_swagger_ui_runs_under_a_policy_without_inline_script(client):
    csp = client.get("/api/docs/")["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self'" and directives["img-src"] == "'self' data:"

    script = client.get("/api/docs/", {"script": ""})
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    body = script.content.decode()
    assert "/api/schema/" in body
    assert '"validatorUrl": null' in body  # no badge fetched from validator.swagger.io

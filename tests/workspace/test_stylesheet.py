"""The hand-written stylesheet keeps text readable: WCAG AA (4.5:1) for the colours of small text."""

import re

import pytest
from django.conf import settings

CSS = (settings.BASE_DIR / "static" / "css" / "app.css").read_text()
VARIABLES = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{3,6})\b", CSS.split("}", 1)[0]))


def colour(value: str) -> str:
    value = VARIABLES[value[2:]] if value.startswith("--") else value
    return "#" + "".join(c * 2 for c in value[1:]) if len(value) == 4 else value


def luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    a, b = sorted((luminance(colour(foreground)), luminance(colour(background))), reverse=True)
    return (a + 0.05) / (b + 0.05)


@pytest.mark.parametrize(
    ("foreground", "background", "where"),
    [
        ("--muted", "--panel", "hints and times in panels"),
        ("--muted", "--bg", "the queue summary and crumbs on the page background"),
        ("--muted", "--brand-soft", "language code and excerpt in the selected queue row"),
        ("--muted", "#fffbeb", "a queue row someone else has open"),
        ("--muted", "#f8fafc", "table headers"),
        ("--hot", "--hot-soft", "SLA chip breaching within 15 minutes"),
        ("#92400e", "--warn-soft", "SLA chip breaching within the hour, presence"),
        ("#fff", "--bad", "overdue SLA chip, urgent priority"),
        ("--brand-strong", "--brand-soft", "the selected view"),
        ("--brand", "--bg", "links on the page background"),
    ],
)
def test_small_text_meets_wcag_aa(foreground, background, where):
    assert contrast(foreground, background) >= 4.5, where


def test_sla_clock_chips_stay_inside_the_side_panel():
    # A long clock label ("Department response · Complaints office") must wrap rather than
    # push its chip past the panel's edge (max-content columns did, at 1440 and 768 px).
    assert re.search(r"\.sla-clocks \.facts \{ grid-template-columns: minmax\(0, 1fr\) auto; \}", CSS)

"""Shipped defaults: Italian, Dutch and 24/7 calendars, SLA policies, regulatory rules and
department targets. Leads tune them in the admin afterwards.

Italian national holidays (Law 260/1949 and later), including San Francesco d'Assisi (4 October)
restored as a national holiday from 2026 (Law 151/2025). Dutch public holidays as banks close
for them; Koningsdag falls on 26 April when 27 April is a Sunday, a Saturday either way, so the
yearly 27 April is exact for a Monday–Friday calendar. Bevrijdingsdag (5 May) is a day off only
in some years under most collective agreements: add it as a one-off date when it applies.
"""

from datetime import time

from django.db import migrations

ITALY_HOLIDAYS = [
    ("Capodanno", "yearly", 1, 1, None, None),
    ("Epifania", "yearly", 1, 6, None, None),
    ("Lunedì dell'Angelo", "easter", None, None, 1, None),
    ("Festa della Liberazione", "yearly", 4, 25, None, None),
    ("Festa del Lavoro", "yearly", 5, 1, None, None),
    ("Festa della Repubblica", "yearly", 6, 2, None, None),
    ("Ferragosto", "yearly", 8, 15, None, None),
    ("San Francesco d'Assisi", "yearly", 10, 4, None, 2026),
    ("Ognissanti", "yearly", 11, 1, None, None),
    ("Immacolata Concezione", "yearly", 12, 8, None, None),
    ("Natale", "yearly", 12, 25, None, None),
    ("Santo Stefano", "yearly", 12, 26, None, None),
]

DUTCH_HOLIDAYS = [
    ("Nieuwjaarsdag", "yearly", 1, 1, None, None),
    ("Tweede Paasdag", "easter", None, None, 1, None),
    ("Koningsdag", "yearly", 4, 27, None, 2014),
    ("Hemelvaartsdag", "easter", None, None, 39, None),
    ("Tweede Pinksterdag", "easter", None, None, 50, None),
    ("Eerste Kerstdag", "yearly", 12, 25, None, None),
    ("Tweede Kerstdag", "yearly", 12, 26, None, None),
]

PUBLIC_SOCIAL = ["x", "facebook", "instagram"]
ALL_SOCIAL = [*PUBLIC_SOCIAL, "linkedin"]
EMAIL = ["email", "certified_email"]


def _calendar(apps, name, tz, *, frames=(), holidays=(), always_open=False):
    Calendar = apps.get_model("sla", "Calendar")
    CalendarFrame = apps.get_model("sla", "CalendarFrame")
    Holiday = apps.get_model("sla", "Holiday")
    calendar, created = Calendar.objects.get_or_create(
        name=name, defaults={"time_zone": tz, "always_open": always_open}
    )
    if created:
        CalendarFrame.objects.bulk_create(
            CalendarFrame(calendar=calendar, weekday=day, start=start, end=end)
            for day in range(5)
            for start, end in frames
        )
        Holiday.objects.bulk_create(
            Holiday(
                calendar=calendar, name=hname, kind=kind, month=month, day=day,
                easter_offset=offset, first_year=first_year,
            )
            for hname, kind, month, day, offset, first_year in holidays
        )
    return calendar


def forwards(apps, schema_editor):
    SlaPolicy = apps.get_model("sla", "SlaPolicy")
    RegulatoryRule = apps.get_model("sla", "RegulatoryRule")
    DepartmentTarget = apps.get_model("sla", "DepartmentTarget")

    italy = _calendar(
        apps, "Italy", "Europe/Rome",
        frames=[(time(9), time(13)), (time(14), time(18))], holidays=ITALY_HOLIDAYS,
    )
    _calendar(
        apps, "Netherlands", "Europe/Amsterdam", frames=[(time(9), time(17))],
        holidays=DUTCH_HOLIDAYS,
    )
    always = _calendar(apps, "24/7", "Europe/Rome", always_open=True)

    def policy(name, order, *, first, nxt, resolution, approval, **extra):
        targets = {}
        for field, value in (
            ("first_response", first), ("next_response", nxt), ("resolution", resolution),
            ("approval", approval),
        ):
            minutes, calendar = value
            targets[f"{field}_minutes"] = minutes
            targets[f"{field}_calendar"] = calendar
        SlaPolicy.objects.get_or_create(name=name, defaults={"order": order, **targets, **extra})

    two_business_days = (2 * 8 * 60, italy)
    policy(
        "Urgent — social networks", 10, channel_kinds=ALL_SOCIAL, priorities=["urgent"],
        first=(15, always), nxt=(15, always), resolution=(4 * 60, italy), approval=(15, always),
        escalate_to_lead_on_breach=True,
    )
    policy(
        "Urgent — other channels", 20, priorities=["urgent"],
        first=(60, italy), nxt=(60, italy), resolution=(4 * 60, italy), approval=(30, italy),
        escalate_to_lead_on_breach=True,
    )
    policy(
        "LinkedIn", 30, channel_kinds=["linkedin"],
        first=(30, always), nxt=(60, always), resolution=two_business_days, approval=(30, always),
    )
    policy(
        "Public social (X, Facebook, Instagram)", 40, channel_kinds=PUBLIC_SOCIAL,
        first=(60, always), nxt=(60, always), resolution=two_business_days, approval=(30, always),
    )
    policy(
        "E-mail", 50, channel_kinds=EMAIL,
        first=(8 * 60, italy), nxt=(8 * 60, italy), resolution=two_business_days,
        approval=(2 * 60, italy),
    )
    policy(
        "Fallback", 1000, is_fallback=True,
        first=(8 * 60, italy), nxt=(8 * 60, italy), resolution=two_business_days,
        approval=(2 * 60, italy),
    )

    RegulatoryRule.objects.get_or_create(
        category="payment_services",
        defaults={"name": "Payment services (PSD2)", "days": 15, "day_kind": "business", "calendar": italy},
    )
    RegulatoryRule.objects.get_or_create(
        category="banking",
        defaults={"name": "Banking complaint", "days": 60, "day_kind": "calendar", "calendar": italy},
    )
    for kind, minutes in (
        ("legal", 4 * 60), ("compliance", 4 * 60), ("risk", 4 * 60), ("hr", 8 * 60),
        ("complaints_office", 8 * 60),
    ):
        DepartmentTarget.objects.get_or_create(
            department_kind=kind, department=None, defaults={"minutes": minutes, "calendar": italy}
        )


class Migration(migrations.Migration):
    dependencies = [("sla", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

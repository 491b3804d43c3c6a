"""Raw inbound traffic, stored before anything is interpreted.

A delivery is what one HTTP request (or one mail, or one imported line) carried, byte for byte.
Each item in it becomes an InboundEvent, unique per channel and platform id: a redelivery, or
the same delivery racing itself on two web processes, can create each event only once.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.tickets.models import Channel, Message, Ticket

from .adapters import SOURCES


class InboundDelivery(models.Model):
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    source = models.CharField(max_length=10, choices=[(s, s) for s in SOURCES])
    body = models.BinaryField(
        help_text=_("The request body exactly as received (signatures cover these bytes).")
    )
    headers = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name_plural = _("inbound deliveries")
        ordering = ["-received_at", "-pk"]

    def __str__(self):
        return f"{self.source} delivery {self.pk} to {self.channel_id}"


class InboundEvent(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSED = "processed", _("Processed")
        FAILED = "failed", _("Failed")
        IGNORED = "ignored", _("Ignored")

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="inbound_events")
    delivery = models.ForeignKey(InboundDelivery, on_delete=models.CASCADE, related_name="events")
    event_key = models.CharField(
        _("platform event id"), max_length=300,
        help_text=_("Tweet id, comment id, Message-ID…: the same id twice is the same event."),
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveSmallIntegerField(default=0)
    detail = models.CharField(
        max_length=500, blank=True, help_text=_("What processing did, or why it ignored the event.")
    )
    last_error = models.TextField(blank=True)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text=_("After a failed attempt: not tried again before this time.")
    )
    created_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "event_key"], name="inbound_event_unique_per_channel"),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="inbound_event_status_created"),
            # The processing queue: only the events still waiting, in arrival order.
            models.Index(fields=["id"], condition=models.Q(status="received"), name="inbound_event_waiting"),
        ]

    def __str__(self):
        return f"{self.channel_id}:{self.event_key} ({self.status})"

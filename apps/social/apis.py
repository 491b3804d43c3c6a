"""`POST /api/inbound/`: any other source posts one message; it takes the webhooks' path."""

import json
from dataclasses import asdict

from django.conf import settings
from django.db import DatabaseError
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view, parser_classes, permission_classes
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from apps.accounts import roles
from apps.tickets.models import Channel

from . import services
from .adapters import API, MalformedPayload, api, parse_delivery


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The body is too large."
    default_code = "payload_too_large"


class Unavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Temporarily unavailable, retry."
    default_code = "unavailable"


class InboundJSONParser(JSONParser):
    """DRF's JSON parser, with JSON nested beyond the parser's depth a 400 rather than a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.")


class CanSubmitInbound(BasePermission):
    """Integrations get `social.add_inboundevent` (a service user with a token); admins may too."""

    message = "This account may not submit inbound messages."

    def has_permission(self, request, view):
        return roles.is_admin(request.user) or request.user.has_perm("social.add_inboundevent")


class AuthorSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=api.MAX_ID, help_text="The author's id in the source system.")
    handle = serializers.CharField(max_length=api.MAX_NAME, required=False, allow_blank=True)
    name = serializers.CharField(max_length=api.MAX_NAME, required=False, allow_blank=True)
    followers_count = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    email = serializers.EmailField(required=False, allow_blank=True)


class ContextSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=api.MAX_CONTEXT_TEXT, required=False, allow_blank=True)
    url = serializers.URLField(max_length=1000, required=False, allow_blank=True)
    id = serializers.CharField(max_length=api.MAX_ID, required=False, allow_blank=True)


class InboundItemSerializer(serializers.Serializer):
    channel = serializers.SlugField(help_text="Slug of an active channel the message arrived on.")
    external_id = serializers.CharField(
        max_length=api.MAX_ID, help_text="The message's id in the source: the same id twice is one message."
    )
    kind = serializers.ChoiceField(choices=api.KINDS, default="post")
    direction = serializers.ChoiceField(
        choices=["in", "out"], default="in", help_text="out: the brand's own message, recorded, never a ticket."
    )
    text = serializers.CharField(max_length=settings.MESSAGE_MAX_CHARS, trim_whitespace=False)
    subject = serializers.CharField(max_length=api.MAX_SUBJECT, required=False, allow_blank=True)
    author = AuthorSerializer(required=False)
    created_at = serializers.DateTimeField(required=False, help_text="When it was written (ISO 8601).")
    parent_external_id = serializers.CharField(
        max_length=api.MAX_ID, required=False, allow_blank=True, help_text="The message this one answers."
    )
    conversation_key = serializers.CharField(max_length=api.MAX_ID, required=False, allow_blank=True)
    hashtags = serializers.ListField(
        child=serializers.CharField(max_length=100), max_length=api.MAX_HASHTAGS, required=False
    )
    is_public = serializers.BooleanField(default=True)
    context = ContextSerializer(required=False, help_text="The post it was written under, if any.")

    def validate_channel(self, value):
        channel = Channel.objects.filter(slug=value, is_active=True).first()
        if channel is None:
            raise serializers.ValidationError("No active channel with this slug.")
        return channel

    def validate_text(self, value):
        if not value.strip():
            raise serializers.ValidationError("The text is empty.")
        return value


class AcceptedSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="1 when stored and queued, 0 for a duplicate.")
    duplicates = serializers.IntegerField()


@extend_schema(
    operation_id="inbound_create",
    tags=["ingest"],
    summary="Submit one inbound message",
    description=(
        "Stores the message as an inbound event and queues it; within seconds it is threaded into a "
        "ticket by the same rules as the platform webhooks (reply pointer, conversation, author). "
        "Posting the same `external_id` on the same channel again is answered 200 with `accepted: 0`. "
        f"Bodies over {settings.WEBHOOK_MAX_BODY_BYTES} bytes are refused with 413."
    ),
    request=InboundItemSerializer,
    responses={
        202: AcceptedSerializer,
        200: OpenApiResponse(AcceptedSerializer, description="Duplicate: already received."),
        400: OpenApiResponse(description="Invalid fields."),
        403: OpenApiResponse(description="Not allowed to submit."),
        413: OpenApiResponse(description="Body too large."),
    },
    examples=[
        OpenApiExample(
            "Store review",
            value={
                "channel": "reviews", "external_id": "review-8841", "kind": "post",
                "text": "Ho chiesto il rimborso tre settimane fa e non ho ancora ricevuto nulla.",
                "author": {"external_id": "u-1207", "name": "Giulia R.", "email": "giulia@example.com"},
                "created_at": "2026-03-02T09:14:00+01:00",
            },
            request_only=True,
        )
    ],
)
@api_view(["POST"])
@parser_classes([InboundJSONParser])
@permission_classes([IsAuthenticated, CanSubmitInbound])
def inbound_create(request):
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > settings.WEBHOOK_MAX_BODY_BYTES:
        raise PayloadTooLarge()
    serializer = InboundItemSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    channel = serializer.validated_data["channel"]
    # What is stored is the validated item, so processing and replay read exactly what passed.
    item = serializer.to_representation({**serializer.validated_data, "channel": channel.slug})
    body = json.dumps(item, ensure_ascii=False).encode()
    try:
        items = parse_delivery(API, body, channel_kind=channel.kind, account_id=channel.account_id)
    except MalformedPayload as exc:
        raise serializers.ValidationError({"detail": str(exc)})
    try:
        accepted = services.inbound_delivery_store(
            channel=channel, source=API, body=body,
            headers={"User-Agent": request.headers.get("User-Agent", "")[:500], "user": request.user.username},
            items=items,
        )
    except DatabaseError:
        raise Unavailable()
    return Response(
        AcceptedSerializer(asdict(accepted)).data,
        status=status.HTTP_202_ACCEPTED if accepted.accepted else status.HTTP_200_OK,
    )

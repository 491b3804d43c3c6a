"""The application's URLs plus /bench/durable-insert/, a reference that exists only here.

`/healthz` is the floor: the framework answering JSON. The durable insert is the least any
store-first webhook must do on top of it: read the body and commit one row holding it to
PostgreSQL before answering (no signature, no parsing, no deduplication, one index).
"""

from django.db import connection
from django.http import JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def durable_insert(request):
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO bench_ingest_probe (body) VALUES (%s) RETURNING id", [request.body])
        [(pk,)] = cursor.fetchall()
    return JsonResponse({"accepted": 1, "id": pk})


urlpatterns = [
    path("bench/durable-insert/", durable_insert),
    path("", include("caretickets.urls")),
]

from collections import Counter

from django.db.models import QuerySet

from .models import KeywordRule, RoutingRule


def routing_rules() -> QuerySet[RoutingRule]:
    return RoutingRule.objects.select_related("team").order_by("order", "pk")


def keyword_counts() -> dict[str, Counter]:
    """Active keywords per aspect and language: {"intent": Counter({"it": 40, …}), …}."""
    counts: dict[str, Counter] = {aspect: Counter() for aspect in KeywordRule.Aspect.values}
    for aspect, language in KeywordRule.objects.filter(is_active=True).values_list("aspect", "language"):
        counts[aspect][language] += 1
    return counts

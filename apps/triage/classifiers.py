"""Classifiers: text in, language / intent / sentiment / priority / routing out, with reasons.

`RuleClassifier` is the default: lingua for the language, then the keyword and routing rules
leads edit in the admin. Another classifier (a model) plugs in through the TRIAGE_CLASSIFIER
setting; it only has to implement `Classifier.classify`. Subclassing RuleClassifier and
overriding one step (say `intent_and_sentiment`) keeps the rest, routing included.

Reasons are entries (`explain.reason(gettext_noop(...), **params)`), not text: the worker runs in
English and the ticket page translates them for whoever reads them (apps/triage/explain.py).
A plugged-in classifier may still return plain strings; they are shown as they are.
"""

import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Protocol

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext_noop

from apps.accounts.models import Department, Team
from apps.tickets.models import PRIORITY_RANK, Intent, Priority, Sentiment, Ticket

from .explain import reason
from .models import (
    ANY_LANGUAGE,
    KeywordRule,
    RoutingRule,
    keyword_regex,
    keyword_stem,
    normalize,
    triage_languages,
)

DEFAULT_CLASSIFIER = "apps.triage.classifiers.RuleClassifier"
RULES_VERSION_KEY = "triage:rules-version"
MAX_TEXT = 10_000
ASPECTS = ("language", "intent", "sentiment", "priority", "routing")
PRIORITY_ORDER = [Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT]
# When two intents score the same, the one that costs the brand more if missed wins.
INTENT_SEVERITY = [
    Intent.REPUTATIONAL_RISK, Intent.MIS_SELLING, Intent.WIDESPREAD_ANOMALY, Intent.EMERGING_PROBLEM,
    Intent.SUPPORT_REQUEST, Intent.WISH, Intent.PRAISE, Intent.OTHER,
]
# The least priority an intent gets (TRIAGE_INTENT_PRIORITY overrides): a public grievance, a
# mis-selling claim and an outage each need an answer within the hour.
DEFAULT_INTENT_PRIORITY = {
    Intent.REPUTATIONAL_RISK: Priority.HIGH, Intent.MIS_SELLING: Priority.HIGH,
    Intent.WIDESPREAD_ANOMALY: Priority.HIGH,
}
# Intents that are grievances even when no word says so.
GRIEVANCES = (Intent.MIS_SELLING, Intent.WIDESPREAD_ANOMALY)
# What a reply under the brand's campaign post becomes when it is negative (or neutral and asks
# nothing): a reputational risk. Concrete problems keep their intent.
CAMPAIGN_OVERRIDABLE = (Intent.SUPPORT_REQUEST, Intent.OTHER, Intent.WISH, Intent.PRAISE)


@dataclass(frozen=True)
class TriageResult:
    language: str
    intent: str
    sentiment: str
    priority: str
    team: Team | None
    department: Department | None
    confidential: bool
    explanation: dict = field(default_factory=dict)


class Classifier(Protocol):
    # `context` (the post a reply was written under) is passed only when there is one, so a
    # classifier without the parameter keeps working on everything else.
    def classify(self, *, text: str, channel, identity=None, customer=None, context=None) -> TriageResult: ...


def get_classifier() -> Classifier:
    return _load_classifier(getattr(settings, "TRIAGE_CLASSIFIER", DEFAULT_CLASSIFIER))


@lru_cache(maxsize=4)
def _load_classifier(path: str) -> Classifier:
    return import_string(path)()


# --- rules, compiled once and shared until someone edits them ------------------------------

@dataclass(frozen=True)
class Keyword:
    rule_id: int
    language: str
    aspect: str
    target: str
    weight: int
    pattern: str
    is_regex: bool
    note: str
    regex: object
    stem: str

    def find(self, text: str, folded: str) -> str | None:
        if self.is_regex:
            match = self.regex.search(text)
        elif self.stem in folded:
            match = self.regex.search(folded)
        else:
            return None
        return match.group(0) if match else None


@dataclass(frozen=True)
class Route:
    rule_id: int
    name: str
    channel_kind: str
    intent: str
    min_priority: str
    language: str
    keywords: tuple
    team: Team | None
    department: Department | None
    department_kind: str
    confidential: bool


@dataclass(frozen=True)
class RuleSet:
    keywords: tuple[Keyword, ...]
    routes: tuple[Route, ...]


_rules: dict = {"token": None, "at": 0.0, "set": None}


def rules_changed(**kwargs) -> None:
    """Signal receiver: a rule changed; every process reloads on its next classification.

    The version lives in the cache (shared when CACHE_URL points at Redis); with the per-process
    default cache other processes pick the change up within TRIAGE_RULES_TTL_SECONDS.
    """
    cache.set(RULES_VERSION_KEY, uuid.uuid4().hex, None)
    _rules["set"] = None


def active_rules() -> RuleSet:
    token = cache.get(RULES_VERSION_KEY)
    if token is None:
        token = uuid.uuid4().hex
        cache.add(RULES_VERSION_KEY, token, None)
        token = cache.get(RULES_VERSION_KEY, token)
    ttl = getattr(settings, "TRIAGE_RULES_TTL_SECONDS", 30)
    if _rules["set"] is None or _rules["token"] != token or time.monotonic() - _rules["at"] > ttl:
        _rules.update(set=_load_rules(), token=token, at=time.monotonic())
    return _rules["set"]


def _load_rules() -> RuleSet:
    departments: dict[str, Department] = {}
    for department in Department.objects.order_by("name"):
        departments.setdefault(department.kind, department)
    keywords = tuple(
        Keyword(
            rule_id=r.pk, language=r.language, aspect=r.aspect, target=r.target, weight=r.weight,
            pattern=r.pattern, is_regex=r.is_regex, note=r.note, regex=r.compiled(),
            stem="" if r.is_regex else keyword_stem(r.pattern),
        )
        for r in KeywordRule.objects.filter(is_active=True)
    )
    routes = tuple(
        Route(
            rule_id=r.pk, name=r.name, channel_kind=r.channel_kind, intent=r.intent,
            min_priority=r.min_priority, language=r.language,
            keywords=tuple((keyword_stem(k), keyword_regex(k)) for k in r.keyword_list),
            team=r.team, department=departments.get(r.department_kind) if r.department_kind else None,
            department_kind=r.department_kind, confidential=r.confidential,
        )
        for r in RoutingRule.objects.filter(is_active=True).select_related("team")
    )
    return RuleSet(keywords=keywords, routes=routes)


# --- language -------------------------------------------------------------------------------

@lru_cache(maxsize=4)
def language_detector(codes: tuple[str, ...]):
    """Built once per process and kept. Low-accuracy mode: ~0.1 ms a text and no multi-second
    model load; short texts, where it guesses, get a second opinion from words (below)."""
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in codes]
    return LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()


# Function words: on a few words they tell a language apart better than letter statistics.
FUNCTION_WORDS = {
    code: frozenset(words.split())
    for code, words in {
        "it": "il lo gli un una di del della dei che non e sono mi ti ci vi per con su da nel nella anche ma "
              "perche come vostro vostra vostri vostre ancora sempre gia questo questa voi noi io",
        "nl": "de het een en van ik jij jullie niet wel is zijn mijn ons onze op met voor aan bij dat die dit "
              "er nog ook maar waarom hoe geen al",
        "en": "the an and of to is are you your my not it this that for with on at be have has was why how "
              "still again i",
        "de": "der die das und ist nicht ich sie ein eine mit auf fur von zu ihr euer mein noch schon",
        "fr": "le les un une et est pas je vous votre mon ma des du pour avec sur dans ce cette toujours encore",
        "es": "el los las un una y es yo usted su mi del para con en por que todavia",
    }.items()
}


def lang(code: str) -> dict:
    """A language as an explanation param: its name, in the reader's language."""
    return {"language": code}


def joined(parts, separator: str = ", ") -> list:
    """Explanation parts shown one after the other, with `separator` between them."""
    result: list = []
    for part in parts:
        if result:
            result.append(separator)
        result.append(part)
    return result


@dataclass
class Hit:
    keyword: Keyword
    found: str

    def describe(self) -> str:
        label = f"“{self.found}”"
        if self.keyword.language != ANY_LANGUAGE:
            label += f" ({self.keyword.language})"
        if self.keyword.note:
            label += f" — {self.keyword.note}"
        return label


class RuleClassifier:
    """Deterministic and explainable: every decision lists the rules and facts behind it."""

    def classify(self, *, text: str, channel, identity=None, customer=None, context=None) -> TriageResult:
        text = (text or "")[:MAX_TEXT]
        folded = normalize(text)
        rules = active_rules()
        explanation = {aspect: [] for aspect in ASPECTS}
        language = self.language(text, folded, rules, channel, customer, explanation["language"])
        hits = [
            Hit(k, found) for k in rules.keywords
            if (language is None or k.language in (ANY_LANGUAGE, language))
            and (found := k.find(text, folded)) is not None
        ]
        intent, sentiment = self.intent_and_sentiment(text, hits, explanation)
        intent, sentiment = self.campaign(context, intent, sentiment, explanation)
        priority = self.priority(hits, intent, sentiment, identity, customer, explanation["priority"])
        team, department, confidential = self.route(
            folded, channel, language or "", intent, priority, rules, explanation["routing"]
        )
        if department is not None:
            explanation["suggested_department"] = {"id": department.pk, "name": department.name}
        return TriageResult(
            language=language or "", intent=intent, sentiment=sentiment, priority=priority, team=team,
            department=department, confidential=confidential, explanation=explanation,
        )

    # Each step appends its reasons to the list it is given.

    def language(self, text, folded, rules, channel, customer, reasons) -> str | None:
        """The detector decides a text of some length; a few words ("bedankt" reads as German)
        are decided by the words themselves first: a language's keywords, then function words."""
        codes = triage_languages()
        ranked = language_detector(codes).compute_language_confidence_values(text) if text.strip() else []
        best = ranked[0] if ranked else None
        best_code = best.language.iso_code_639_1.name.lower() if best else None
        confident = best is not None and best.value >= getattr(settings, "TRIAGE_LANGUAGE_MIN_CONFIDENCE", 0.75)
        short = len(folded.split()) < getattr(settings, "TRIAGE_LANGUAGE_MIN_WORDS", 6)
        if confident and not short:
            reasons.append(reason(
                gettext_noop("Detected %(lang)s with %(pct)d%% confidence among %(codes)s."),
                lang=lang(best_code), pct=round(best.value * 100), codes=", ".join(codes),
            ))
            return best_code
        hint = self._language_hint(text, folded, rules, codes)
        if hint is not None:
            code, words, kind = hint
            reasons.append(reason(
                gettext_noop("Short text; %(words)s: %(lang)s %(kind)s."),
                words=", ".join(f"“{w}”" for w in dict.fromkeys(words)), lang=lang(code),
                kind=kind,
            ))
            return code
        if confident:
            reasons.append(reason(
                gettext_noop("Detected %(lang)s with %(pct)d%% confidence on a short text."),
                lang=lang(best_code), pct=round(best.value * 100),
            ))
            return best_code
        if customer is not None and customer.language in codes:
            reasons.append(reason(
                gettext_noop("Too short to tell; the customer wrote in %(lang)s before."),
                lang=lang(customer.language)
            ))
            return customer.language
        if best is not None and best.value >= 0.4:
            reasons.append(reason(
                gettext_noop("Probably %(lang)s (%(pct)d%% confidence only)."),
                lang=lang(best_code), pct=round(best.value * 100),
            ))
            return best_code
        team = getattr(channel, "team", None)
        if team is not None and team.default_language:
            reasons.append(reason(
                gettext_noop("Cannot tell from the text; the team's language %(lang)s."),
                lang=lang(team.default_language)
            ))
            return team.default_language
        reasons.append(reason(gettext_noop("Cannot tell the language from the text.")))
        return None

    @staticmethod
    def _language_hint(text, folded, rules, codes) -> tuple[str, list[str], dict] | None:
        """(language, the words that tell, what they are) when exactly one language wins."""
        keywords: dict[str, list[str]] = defaultdict(list)
        for keyword in rules.keywords:
            if keyword.language in codes and (found := keyword.find(text, folded)):
                keywords[keyword.language].append(found)
        if len(keywords) == 1:
            code, words = next(iter(keywords.items()))
            return code, words, reason(gettext_noop("keywords"))
        tokens = [t.strip(".,;:!?¿¡\"'()") for t in folded.split()]
        function_words = {code: [t for t in tokens if t in FUNCTION_WORDS.get(code, ())] for code in codes}
        ranked = sorted(function_words.items(), key=lambda kv: -len(kv[1]))
        if ranked and ranked[0][1] and (len(ranked) == 1 or len(ranked[0][1]) > len(ranked[1][1])):
            return ranked[0][0], ranked[0][1], reason(gettext_noop("words"))
        return None

    def intent_and_sentiment(self, text, hits, explanation) -> tuple[str, str]:
        scores: dict[str, int] = defaultdict(int)
        for hit in hits:
            if hit.keyword.aspect == KeywordRule.Aspect.INTENT:
                scores[hit.keyword.target] += hit.keyword.weight
                explanation["intent"].append(reason(
                    gettext_noop("%(kw)s points to %(intent)s (weight %(w)d)."),
                    kw=hit.describe(), intent={"intent": hit.keyword.target}, w=hit.keyword.weight,
                ))
        sentiment = self._sentiment(hits, explanation["sentiment"])
        if Intent.PRAISE in scores and sentiment == Sentiment.NEGATIVE:
            del scores[Intent.PRAISE]
            explanation["intent"].append(reason(
                gettext_noop("Praise words in a negative message are irony or politeness: not Praise.")
            ))
        if scores:
            intent = max(scores, key=lambda i: (scores[i], -INTENT_SEVERITY.index(i)))
            if intent in GRIEVANCES and sentiment == Sentiment.NEUTRAL:
                sentiment = Sentiment.NEGATIVE
                explanation["sentiment"].append(reason(
                    gettext_noop("%(intent)s is a grievance: Negative."),
                    intent={"intent": intent}
                ))
            if len(scores) > 1:
                explanation["intent"].append(reason(
                    gettext_noop("%(intent)s scores highest: %(scores)s."),
                    intent={"intent": intent},
                    scores=joined(
                        [{"intent": i}, f" {s}"] for i, s in sorted(scores.items(), key=lambda kv: -kv[1])
                    ),
                ))
            return intent, sentiment
        if "?" in text:
            explanation["intent"].append(reason(
                gettext_noop("No intent keyword; the customer asks a question: Support request.")
            ))
            return Intent.SUPPORT_REQUEST, sentiment
        if sentiment == Sentiment.NEGATIVE:
            explanation["intent"].append(reason(
                gettext_noop("No intent keyword; a negative message: Support request.")
            ))
            return Intent.SUPPORT_REQUEST, sentiment
        serious = [h for h in hits if h.keyword.aspect == KeywordRule.Aspect.PRIORITY
                   and h.keyword.target in (Priority.HIGH, Priority.URGENT)]
        if serious:
            explanation["intent"].append(reason(
                gettext_noop("No intent keyword; %(kw)s needs handling: Support request."),
                kw=serious[0].describe()
            ))
            return Intent.SUPPORT_REQUEST, sentiment
        explanation["intent"].append(reason(gettext_noop("No intent keyword matched: Other.")))
        return Intent.OTHER, sentiment

    def campaign(self, context, intent, sentiment, explanation) -> tuple[str, str]:
        """A reply under the brand's own (often sponsored) post is read by the campaign's whole
        audience: negative, or neutral and asking nothing, it is a reputational risk (seed 000:
        the #bancachenoncera wave; seed 002: the LinkedIn comments). Such a reply is not neutral
        either: it is there to be seen disagreeing."""
        if not isinstance(context, dict) or not context or intent not in CAMPAIGN_OVERRIDABLE:
            return intent, sentiment
        # Under an ordinary post of the brand, a customer describing a concrete problem is asking
        # for help; under a sponsored or campaign post, the campaign's audience reads it too.
        if intent == Intent.SUPPORT_REQUEST and not (context.get("sponsored") or context.get("campaign")):
            return intent, sentiment
        if sentiment == Sentiment.NEGATIVE:
            why = reason(gettext_noop("a negative reply"))
        elif sentiment == Sentiment.NEUTRAL and intent == Intent.OTHER:
            why = reason(gettext_noop("a reply that asks nothing and praises nothing"))
        else:
            return intent, sentiment
        post = reason(
            gettext_noop("the brand's sponsored post") if context.get("sponsored") else gettext_noop("the brand's post")
        )
        tags = [str(t)[:50] for t in (context.get("hashtags") or [])[:3] if t]
        if tags:
            post = [post, f" ({' '.join('#' + t.lstrip('#') for t in tags)})"]
        explanation["intent"].append(reason(
            gettext_noop("%(why)s under %(post)s, in front of its whole audience: Reputational risk."),
            why={**why, "capfirst": True}, post=post,
        ))
        if sentiment == Sentiment.NEUTRAL:
            explanation["sentiment"].append(reason(
                gettext_noop("A reply under the brand's post that praises nothing and asks nothing is a "
                             "public disagreement: Negative.")
            ))
            sentiment = Sentiment.NEGATIVE
        return Intent.REPUTATIONAL_RISK, sentiment

    def _sentiment(self, hits, reasons) -> str:
        positive = negative = 0
        for hit in hits:
            if hit.keyword.aspect != KeywordRule.Aspect.SENTIMENT:
                continue
            if hit.keyword.target == Sentiment.POSITIVE:
                positive += hit.keyword.weight
                reasons.append(reason(
                    gettext_noop("%(kw)s is positive (+%(w)d)."), kw=hit.describe(), w=hit.keyword.weight,
                ))
            elif hit.keyword.target == Sentiment.NEGATIVE:
                negative += hit.keyword.weight
                reasons.append(reason(
                    gettext_noop("%(kw)s is negative (−%(w)d)."), kw=hit.describe(), w=hit.keyword.weight,
                ))
        if not positive and not negative:
            reasons.append(reason(gettext_noop("No positive or negative cue: Neutral.")))
            return Sentiment.NEUTRAL
        score = positive - negative
        result = Sentiment.POSITIVE if score > 0 else Sentiment.NEGATIVE
        if score == 0:
            # "Complimenti per il tempismo" next to a complaint: kind words do not cancel it.
            reasons.append(reason(
                gettext_noop("As many negative as positive cues: kind words next to a complaint are irony or "
                             "politeness: Negative.")
            ))
            return result
        reasons.append(reason(
            gettext_noop("Score %(score)+d: %(sentiment)s."), score=score, sentiment={"sentiment": result},
        ))
        return result

    def priority(self, hits, intent, sentiment, identity, customer, reasons) -> str:
        priority = None
        for hit in sorted(
            (h for h in hits if h.keyword.aspect == KeywordRule.Aspect.PRIORITY),
            key=lambda h: (-PRIORITY_RANK[h.keyword.target], -h.keyword.weight),
        ):
            reasons.append(reason(
                gettext_noop("%(kw)s: %(prio)s."), kw=hit.describe(), prio={"priority": hit.keyword.target},
            ))
            if priority is None or PRIORITY_RANK[hit.keyword.target] > PRIORITY_RANK[priority]:
                priority = hit.keyword.target
        if priority is None:
            if intent == Intent.PRAISE and sentiment != Sentiment.NEGATIVE:
                reasons.append(reason(gettext_noop("Praise with no risk cue: Low.")))
                priority = Priority.LOW
            elif intent == Intent.WISH and sentiment != Sentiment.NEGATIVE:
                reasons.append(reason(gettext_noop("A wish with no risk cue or grievance: Low.")))
                priority = Priority.LOW
            else:
                reasons.append(reason(gettext_noop("No priority keyword: Normal.")))
                priority = Priority.NORMAL
        floor = getattr(settings, "TRIAGE_INTENT_PRIORITY", DEFAULT_INTENT_PRIORITY).get(intent)
        if floor and PRIORITY_RANK[floor] > PRIORITY_RANK[priority]:
            reasons.append(reason(
                gettext_noop("%(intent)s: at least %(prio)s."),
                intent={"intent": intent}, prio={"priority": floor},
            ))
            priority = floor
        followers = getattr(identity, "followers_count", None)
        if followers and sentiment != Sentiment.POSITIVE:
            for threshold, level in (
                (getattr(settings, "TRIAGE_REACH_URGENT", 250_000), Priority.URGENT),
                (getattr(settings, "TRIAGE_REACH_HIGH", 10_000), Priority.HIGH),
            ):
                if followers >= threshold:
                    if PRIORITY_RANK[level] > PRIORITY_RANK[priority]:
                        reasons.append(reason(
                            gettext_noop("The author reaches %(n)s followers (%(t)s or more): at least %(prio)s."),
                            n={"number": followers}, t={"number": threshold}, prio={"priority": level},
                        ))
                        priority = level
                    break
        if customer is not None and customer.pk:
            days = getattr(settings, "TRIAGE_REPEAT_WINDOW_DAYS", 30)
            limit = getattr(settings, "TRIAGE_REPEAT_CONTACTS", 2)
            recent = Ticket.objects.filter(
                customer=customer, created_at__gte=timezone.now() - timedelta(days=days)
            ).count()
            if recent >= limit and priority != Priority.URGENT:
                raised = PRIORITY_ORDER[PRIORITY_ORDER.index(priority) + 1]
                reasons.append(reason(
                    gettext_noop("Repeated contact: %(n)d earlier tickets in %(d)d days, raised to %(prio)s."),
                    n=recent, d=days, prio={"priority": raised},
                ))
                priority = raised
        return priority

    def route(self, folded, channel, language, intent, priority, rules, reasons):
        team = department = None
        confidential = False
        for route in rules.routes:
            matched = self._route_matches(route, folded, channel, language, intent, priority)
            if matched is None:
                continue
            gives = []
            if route.team is not None and team is None:
                team = route.team
                gives.append(reason(gettext_noop("team %(team)s"), team=str(route.team)))
            if route.department_kind and department is None:
                if route.department is not None:
                    department = route.department
                    gives.append(reason(gettext_noop("suggests escalation to %(dept)s"), dept=str(route.department)))
                else:
                    gives.append(reason(
                        gettext_noop("would suggest %(kind)s, but no such department exists"),
                        kind={"department_kind": route.department_kind}
                    ))
            if route.confidential and not confidential:
                confidential = True
                gives.append(reason(gettext_noop("confidential")))
            if gives:
                reasons.append(reason(
                    gettext_noop("Rule “%(name)s” (%(why)s): %(gives)s."),
                    name=route.name, why=matched, gives=joined(gives, "; "),
                ))
        if team is None:
            team = getattr(channel, "team", None)
            if team is not None:
                reasons.append(reason(gettext_noop("Team %(team)s: the channel's default team."), team=str(team)))
            else:
                reasons.append(reason(gettext_noop("No team: no routing rule chose one and the channel has none.")))
        return team, department, confidential

    @staticmethod
    def _route_matches(route, folded, channel, language, intent, priority) -> list | dict | None:
        """Why the rule matches, or None when one of its conditions fails."""
        why = []
        if route.channel_kind:
            if route.channel_kind != channel.kind:
                return None
            why.append(reason(gettext_noop("channel %(kind)s"), kind=channel.get_kind_display()))
        if route.intent:
            if route.intent != intent:
                return None
            why.append(reason(gettext_noop("intent %(intent)s"), intent={"intent": intent}))
        if route.min_priority:
            if PRIORITY_RANK[priority] < PRIORITY_RANK[route.min_priority]:
                return None
            why.append(reason(gettext_noop("priority %(prio)s"), prio={"priority": priority}))
        if route.language:
            if route.language != language:
                return None
            why.append(reason(gettext_noop("language %(lang)s"), lang=language))
        if route.keywords:
            found = next(
                (m.group(0) for stem, rx in route.keywords if stem in folded and (m := rx.search(folded))), None
            )
            if found is None:
                return None
            why.append(reason(gettext_noop("keyword “%(kw)s”"), kw=found))
        return joined(why) if why else reason(gettext_noop("applies to everything"))

"""In-transaction extension points for apps that keep derived state on tickets (SLA, radar…).

Apps subscribe in their AppConfig.ready(); the ticket services emit inside their transaction,
so derived columns commit or roll back together with the change that caused them. Work that
talks to the outside world belongs in on-commit callbacks, not here.

Events and their keyword arguments:
- "tickets_created": tickets  (one or many, stored together; each ticket's created_at is when)
- "ticket_transitioned": ticket, transition, from_state, to_state, actor, at, params
- "messages_recorded": messages  (inbound from the customer, or outbound published; one or many,
  stored together; each message's created_at is when)
- "message_edited": message, at
"""

from collections import defaultdict
from collections.abc import Callable

_subscribers: dict[str, list[Callable]] = defaultdict(list)


def subscribe(event: str, fn: Callable) -> None:
    if fn not in _subscribers[event]:
        _subscribers[event].append(fn)


def emit(event: str, **kwargs) -> None:
    for fn in list(_subscribers[event]):
        fn(**kwargs)

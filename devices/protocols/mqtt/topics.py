"""Topic names and topic filters (MQTT 3.1.1 4.7, MQTT 5.0 4.7-4.8).

* A topic name (in a PUBLISH) is at least one character and holds no wildcard (``+``, ``#``).
  MQTT 5 lets a PUBLISH carry an empty name together with a Topic Alias; that is the session's
  business (it resolves aliases), so :func:`check_topic_name` takes ``allow_empty``.
* A topic filter is at least one character; ``#`` only as the whole last level, ``+`` only as
  a whole level.
* ``$share/<name>/<filter>`` is an MQTT 5 shared subscription: the share name is non-empty and
  holds no ``/``, ``+`` or ``#``, and a filter must follow. Under 3.1.1 it is an ordinary filter.
* Topics beginning with ``$`` are not matched by a filter whose first level is a wildcard
  (``#`` or ``+/...`` do not match ``$SYS/x``).
"""

from __future__ import annotations

SHARE_PREFIX = "$share/"


def check_topic_name(name: str, allow_empty: bool = False) -> None:
    """ValueError naming the problem if ``name`` may not be a PUBLISH topic name."""
    if not name and not allow_empty:
        raise ValueError("topic name is empty; a topic name has at least one character")
    if "+" in name or "#" in name:
        raise ValueError(f"topic name {name!r} contains a wildcard ('+' or '#')")


def is_shared(topic_filter: str) -> bool:
    return topic_filter.startswith(SHARE_PREFIX)


def check_topic_filter(topic_filter: str, shared_allowed: bool = True) -> None:
    """ValueError naming the problem if ``topic_filter`` may not be subscribed to."""
    if not topic_filter:
        raise ValueError("topic filter is empty; a topic filter has at least one character")
    if shared_allowed and is_shared(topic_filter):
        share, sep, rest = topic_filter[len(SHARE_PREFIX) :].partition("/")
        if not share or any(c in share for c in "+#"):
            raise ValueError(f"shared subscription {topic_filter!r} has an invalid share name")
        if not sep or not rest:
            raise ValueError(f"shared subscription {topic_filter!r} has no topic filter")
        topic_filter = rest
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise ValueError(
                f"topic filter {topic_filter!r}: '#' must be a whole level and the last one"
            )
        if "+" in level and level != "+":
            raise ValueError(f"topic filter {topic_filter!r}: '+' must be a whole level")


def topic_matches(topic_filter: str, name: str) -> bool:
    """True if the (valid, non-shared) ``topic_filter`` matches the topic ``name``."""
    if name.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    f_levels, n_levels = topic_filter.split("/"), name.split("/")
    for i, level in enumerate(f_levels):
        if level == "#":
            return True
        if i >= len(n_levels):
            return False
        if level != "+" and level != n_levels[i]:
            return False
    return len(f_levels) == len(n_levels)

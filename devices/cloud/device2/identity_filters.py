"""The filters and order of ``listIdentities``, ``countIdentities`` and ``updateIdentities``,
as SQL over the ``identities`` table (alias ``i``).

List filters: ``before``/``after`` compare ``lastseen`` (never seen counts as 0); ``status`` is
a comma-separated list of ``locked``, ``reprovision``, ``provisioned``, ``whitelisted``,
``expired``, ``online``, ``offline`` (any may match); ``identity`` is a regular expression
searched in the identity; ``ipaddress`` equals ``lastip``; ``version`` is accepted and ignored
(the seed: "Not implemented"); ``tag.name``/``tag.value`` need a tag with that name (and
value); ``tags`` is a JSON array (or its text) of ``{name, operator, value}`` criteria, all of
which must hold for some tag of that name, comparing strings (``gt gte lt lte eq ne``); it
may not be combined with ``tag.name``/``tag.value``.

``order``: items ``identity``, ``lastseen``, ``lastip`` or ``state.<alias>`` (the reported
value), each ascending unless suffixed ``.desc``; default ``lastseen.desc``; ties go by
identity. ``mayLoadMore`` is true when more identities match past ``offset + limit``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from devices.cloud.device2 import params as p
from devices.cloud.device2 import tags
from devices.cloud.device2.context import Context
from devices.cloud.device2.errors import InvalidInput, one_of
from devices.cloud.device2.lifecycle import FILTERS, LOCKED
from devices.cloud.device2.store import dumps

TAG_OPERATORS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "=", "ne": "!="}
_ORDER = re.compile(r"(identity|lastseen|lastip|state\.[^.$]+)(?:\.(desc|asc))?")


def where(ctx: Context, params: p.Params) -> tuple[str, list[Any]]:
    """The SQL condition (on alias ``i``) of the identity filters in ``params``."""
    clauses, args = ["i.product = ?"], [ctx.product]
    for name, op in (("before", "<"), ("after", ">")):
        bound = p.opt_number(params, name)
        if bound is not None:
            clauses.append(f"COALESCE(i.lastseen, 0) {op} ?")
            args.append(bound)
    statuses = p.opt_str_list(params, "status")
    if statuses:
        either = []
        for status in statuses:
            if status not in FILTERS:
                raise InvalidInput("status", "a comma-separated list of " + one_of(FILTERS), status)
            if status == LOCKED:
                either.append("i.locked = 1")
            elif status in ("online", "offline"):
                neg = "NOT " if status == "offline" else ""
                either.append(f"i.identity {neg}IN (SELECT value FROM json_each(?))")
                args.append(dumps(sorted(ctx.online_identities())))
            else:
                either.append("(i.status = ? AND i.locked = 0)")
                args.append(status)
        clauses.append("(" + " OR ".join(either) + ")")
    pattern = p.opt_str(params, "identity")
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise InvalidInput("identity", f"a regular expression ({exc})", pattern) from None
        clauses.append("i.identity REGEXP ?")
        args.append(pattern)
    ip = p.opt_str(params, "ipaddress")
    if ip is not None:
        clauses.append("i.lastip = ?")
        args.append(ip)
    p.opt_str(params, "version")
    tag_name = p.opt_str(params, "tag.name", max_len=tags.NAME_MAX)
    tag_value = p.get(params, "tag.value", None)
    if tag_value is not None and not isinstance(tag_value, str):
        raise InvalidInput("tag.value", "a string", tag_value)
    if tag_value is not None and tag_name is None:
        raise InvalidInput("tag.value", "a tag value only together with tag.name")
    exists_tag = "EXISTS (SELECT 1 FROM tags t WHERE t.product = i.product AND "
    exists_tag += "t.identity = i.identity AND t.name = ?"
    if tag_name is not None:
        clauses.append(exists_tag + (" AND t.value = ?)" if tag_value is not None else ")"))
        args += [tag_name] + ([tag_value] if tag_value is not None else [])
    criteria = _tag_criteria(p.get(params, "tags", None))
    if criteria and tag_name is not None:
        raise InvalidInput("tags", "tags without tag.name or tag.value")
    for name, op, value in criteria:
        clauses.append(exists_tag + f" AND t.value {op} ?)")
        args += [name, value]
    return " AND ".join(clauses), args


def _tag_criteria(raw: Any) -> list[tuple[str, str, str]]:
    if raw is None:
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError):
            raise InvalidInput("tags", "a JSON array of {name, operator, value}", raw) from None
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list):
        raise InvalidInput("tags", "a JSON array of {name, operator, value}", raw)
    out = []
    for i, item in enumerate(raw):
        where = f"tags[{i}]"
        if not isinstance(item, Mapping):
            raise InvalidInput(where, "an object with name, operator and value", item)
        fields = p.item_params(item, where)
        name = p.req_str(fields, f"{where}.name", max_len=tags.NAME_MAX)
        operator = p.opt_choice(fields, f"{where}.operator", list(TAG_OPERATORS), "eq")
        value = item.get("value")
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise InvalidInput(f"{where}.value", "a string", value)
        out.append((name, TAG_OPERATORS[operator or "eq"], value))
    return out


def order(params: p.Params) -> tuple[str, list[Any]]:
    items = p.opt_str_list(params, "order") or ["lastseen.desc"]
    terms, args = [], []
    for item in items:
        m = _ORDER.fullmatch(item)
        if not m:
            raise InvalidInput(
                "order", "identity, lastseen, lastip or state.<alias>, optionally .desc/.asc", item
            )
        key, direction = m.group(1), (m.group(2) or "asc").upper()
        if key.startswith("state."):
            terms.append(
                "(SELECT json_extract(s.reported, '$') FROM state s WHERE s.product = i.product "
                f"AND s.identity = i.identity AND s.alias = ?) {direction}"
            )
            args.append(key[len("state.") :])
        else:
            terms.append(f"i.{key} {direction}")
    terms.append("i.identity ASC")
    return ", ".join(terms), args

"""Fuzz campaigns against the reference BLE access controller (see :mod:`scenarios.fuzzing`).

==================  ==========================================================================
``ac-http``         requests drawn from the controller's OpenAPI description (its
                    ``GET /openapi.json``: token endpoint, hubs, hubStatus, the combined
                    stream, open/close switches, auto-selection, positioning, the router-call
                    catch-all) and router calls drawn from the router's own description
                    (fetched through the controller) addressed with ``?mac=``; in-world,
                    virtual time
``world-control``   the shared world-control campaign (:mod:`scenarios.control_fuzz`): a guard
                    router and peripheral no input names, a target router and peripheral
==================  ==========================================================================

The world has two routers: a *target* the inputs may name (its MAC is also among the
plumbing's hostile texts) and a *guard* whose MAC no input names, each with a connected
peripheral. Most inputs carry a valid bearer token (header or ``access_token=``); the rest
carry none, an expired, a forged or a malformed one (the token endpoint: wrong or no HTTP
Basic credentials). A 2xx (or an opened stream) to such a request on a route that needs a
credential is an ``auth-bypass``. Streams are opened and dropped at once (the plumbing reads a
stream's head only); afterwards every stream must have been released. ``POST /cassia/reboot``
is not sent to the router: a reboot drops its links by design. The controller has no tenants
(a token is a developer's, not scoped to data), so there is no cross-tenant check.

Input ``i`` depends on the seed only: tokens are placeholders in the drawn inputs, replaced by
the live values when sent.
"""

from __future__ import annotations

import base64
import dataclasses
import random
import string
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from devices.ble.spec import standard_peripheral
from devices.gateways.ble_ac.api import TOKEN_PATH
from devices.protocols.http_client import HttpClient
from scenarios import control_fuzz
from scenarios.ble_ac.bed import AC_HOST, AC_PORT, LocalAcBed
from scenarios.fuzzing import FuzzTally
from scenarios.http_fuzz import HttpCase, TracedErrors, case_strategy, draw_cases, send_all

SYSTEM = "ble-ac"
INTERFACES = ("ac-http", "world-control")
Progress = Callable[[int, int], None]

TARGET = {"name": "T", "mac": "CC:1B:E0:E0:00:01", "position": [0.0, 0.0, 0.0]}
GUARD = {"name": "G", "mac": "CC:1B:E0:E0:0A:01", "position": [60.0, 0.0, 0.0]}
ABSENT_ROUTER = "CC:1B:E0:E0:0F:0F"  # no router has this MAC
ABSENT_DEVICE = "C0:00:00:00:FF:01"
OPEN_OPERATIONS = ("GET /openapi.json",)  # every other operation needs a credential
CHUNK = 200  # inputs sent with one fresh token

# Placeholders the drawn inputs carry, replaced when sent.
VALID = "{valid-token}"
EXPIRED = "{expired-token}"
MUTATED = "{mutated-token}"
BASIC = "{developer-basic}"

# How an input authenticates; the first of each tuple is the good one, drawn most often.
BEARER_KINDS = ("header", "query", "none", "expired", "mutated", "forged", "basic-as-bearer")
TOKEN_KINDS = ("basic", "none", "wrong-basic", "bearer")
GOOD_KINDS = ("header", "query", "basic")


class AuthTally(FuzzTally):
    """A tally that also knows, input by input, whether the credential was good: a 2xx or an
    opened stream to an input without one is recorded as ``auth-bypass``."""

    def __init__(self, system: str, interface: str) -> None:
        super().__init__(system, interface)
        self.unauthorised: list[bool] = []

    def record(self, answer_class: str, example: Any = None) -> None:
        wrong = self.inputs < len(self.unauthorised) and self.unauthorised[self.inputs]
        if wrong and (answer_class == "stream" or answer_class.startswith("2")):
            answer_class = "auth-bypass"
        super().record(answer_class, example)


def campaign(
    interface: str, examples: int, seed: int, progress: Progress | None = None
) -> FuzzTally:
    """``examples`` inputs at ``interface`` (one of :data:`INTERFACES`)."""
    if interface == "world-control":
        return control_fuzz.campaign(SYSTEM, examples, seed, progress)
    if interface not in INTERFACES:
        raise ValueError(f"no interface {interface!r}; interfaces: {', '.join(INTERFACES)}")
    tally = AuthTally(SYSTEM, interface)
    bed = LocalAcBed(seed=seed, keep_trace=False, routers=[TARGET, GUARD])
    try:
        bed.run(bed.start())
        bed.run(_attack(bed, tally, examples, seed, progress))
    finally:
        bed.close()
    return tally


# -- the world before and after -------------------------------------------------------------------
async def _connected_pair(bed: LocalAcBed) -> dict[str, str]:
    """A peripheral beside each router, connected through a router call: router MAC -> the
    peripheral's address."""
    client = bed.client()
    held = {}
    for index, router in ((1, TARGET), (2, GUARD)):
        x = float(router["position"][0]) + 1.0  # type: ignore[index]
        spec = standard_peripheral(index, position=(x, 0.0, 0.0), name_prefix=f"{router['name']}-")
        address = await bed.place(spec)
        answer = await client.request(
            "POST",
            f"/api/gap/nodes/{address}/connection",
            {"mac": str(router["mac"])},
            json_body={"type": "random"},
        )
        if answer.status != 200:
            raise RuntimeError(f"the campaign's peripheral did not connect: {answer.text}")
        held[str(router["mac"])] = address
    return held


async def _guard_state(client: HttpClient, guard: str, device: str) -> dict[str, Any]:
    """What no input may change of the guard router, through the controller's API."""
    hub = await client.request("GET", f"/api/cassia/hubs/{guard}")
    nodes = await client.request(
        "GET", "/api/gap/nodes", {"connection_state": "connected", "mac": guard}
    )
    services = await client.request("GET", f"/api/gatt/nodes/{device}/services", {"mac": guard})
    shown = hub.json() if hub.status == 200 else {}
    return {
        "hub": {k: shown.get(k) for k in ("mac", "name", "status", "model", "position", "time")},
        "connected": sorted(n["id"] for n in nodes.json()["nodes"]) if nodes.status == 200 else [],
        "services": services.status,
    }


async def _good(client: HttpClient) -> bool:
    answer = await client.request("GET", "/api/cassia/hubs")
    online = {h.get("mac") for h in answer.json()} if answer.status == 200 else set()
    return online == {TARGET["mac"], GUARD["mac"]}


async def _token(bed: LocalAcBed) -> str:
    answer = await bed.token(bed.client_id, bed.secret)
    if answer.status != 200:
        raise RuntimeError(f"the controller refused the campaign's token request: {answer.text}")
    return str(answer.json()["access_token"])


async def _expired_token(bed: LocalAcBed) -> str:
    """A token issued with a one-second life, which has run out."""
    tokens = bed.ac.tokens
    ttl, tokens.ttl_s = tokens.ttl_s, 1.0
    try:
        value = await _token(bed)
    finally:
        tokens.ttl_s = ttl
    await bed.sleep(2.0)
    return value


def _router_streams(bed: LocalAcBed) -> dict[str, list[str]]:
    """The kinds of stream open on each router (the controller's own uplinks among them)."""
    return {name: sorted(r.streams.open.values()) for name, r in bed.routers.items()}


async def _switches_back(client: HttpClient) -> bool:
    """Set the combined stream's switches and auto-selection back to how a fresh controller
    has them (the inputs may have opened scans on every router, by design)."""
    every = {"aps": "*"}
    answers = [
        await client.request("POST", "/api/aps/scan/close", json_body=every),
        await client.request("POST", "/api/aps/ap-select-switch", json_body={"flag": 0}),
        await client.request("POST", "/api/aps/notify/open", json_body=every),
        await client.request("POST", "/api/aps/connection-state/open", json_body=every),
    ]
    return all(a.status == 200 for a in answers)


# -- the inputs -----------------------------------------------------------------------------------
def _draw(
    ac_doc: dict[str, Any], router_doc: dict[str, Any], devices: list[str], examples: int, seed: int
) -> list[tuple[HttpCase, str]]:
    """``examples`` (request, how it authenticates) pairs, shared evenly among the controller's
    own operations and the router's (as router calls addressed to the target mostly, else an
    absent router or a malformed MAC), in an order the seed shuffles."""
    own = {
        "mac": st.sampled_from([TARGET["mac"], *devices, "*", ABSENT_ROUTER, ABSENT_DEVICE]),
        "tail": st.sampled_from(["cassia/info", "gap/nodes", "no/such/call"]),
    }
    uuids = st.sampled_from(["180D", "2A37", "180F", "2A19", "2902", "FFF0", "1800"])
    router = {
        "node": st.sampled_from([*devices, devices[0].lower(), ABSENT_DEVICE]),
        "handle": st.integers(1, 48).map(str),
        "service": uuids,
        "characteristic": uuids,
    }
    macs = st.sampled_from([TARGET["mac"]] * 6 + [TARGET["mac"].lower(), ABSENT_ROUTER, "", "AC"])
    strategies = [case_strategy(doc, own) for doc in _one_by_one(ac_doc)]
    strategies += [
        st.builds(_addressed, case_strategy(doc, router), macs)
        for doc in _one_by_one(router_doc, skip=(("POST", "/cassia/reboot"),))
    ]
    drawn: list[tuple[HttpCase, str]] = []
    for i, strategy in enumerate(strategies):
        share = examples // len(strategies) + (1 if i < examples % len(strategies) else 0)
        if share:
            drawn += draw_cases(strategy.flatmap(_with_auth), share, seed + 7919 * i)
    random.Random(seed).shuffle(drawn)
    return drawn


def _one_by_one(
    doc: dict[str, Any], skip: tuple[tuple[str, str], ...] = ()
) -> list[dict[str, Any]]:
    """``doc`` as one document per operation (so that each gets its share of the inputs)."""
    return [
        {"paths": {path: {method: op}}}
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if (method.upper(), path) not in skip
    ]


def _addressed(case: HttpCase, mac: str) -> HttpCase:
    """A router's request as a router call through the controller."""
    query = case.query if not mac else (("mac", mac), *case.query)
    return dataclasses.replace(
        case, path="/api" + case.path, query=query, operation=f"router {case.operation}"
    )


def _with_auth(case: HttpCase) -> st.SearchStrategy[tuple[HttpCase, str]]:
    if case.operation in OPEN_OPERATIONS:
        return st.just((case, "header")).map(lambda pair: (_authed(*pair), pair[1]))
    kinds = TOKEN_KINDS if case.operation == f"POST {TOKEN_PATH}" else BEARER_KINDS
    weighted = [kinds[0]] * (len(kinds) + 2) + list(kinds[1:])
    forged = st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=40)
    return st.tuples(st.sampled_from(weighted), forged).map(
        lambda drawn: (_authed(case, drawn[0], drawn[1]), drawn[0])
    )


def _authed(case: HttpCase, kind: str, forged: str = "x") -> HttpCase:
    """``case`` carrying the credential of ``kind`` (placeholders for live tokens)."""
    header = {
        "header": f"Bearer {VALID}",
        "expired": f"Bearer {EXPIRED}",
        "mutated": f"Bearer {MUTATED}",
        "forged": f"Bearer {forged}",
        "basic-as-bearer": f"Basic {BASIC}",
        "basic": f"Basic {BASIC}",
        "wrong-basic": "Basic " + base64.b64encode(f"hil-developer:{forged}".encode()).decode(),
        "bearer": f"Bearer {VALID}",
    }.get(kind)
    headers = case.headers + ((("Authorization", header),) if header else ())
    query = case.query + ((("access_token", VALID),) if kind == "query" else ())
    return dataclasses.replace(case, headers=headers, query=query)


def _live(case: HttpCase, values: dict[str, str]) -> HttpCase:
    def fill(text: str) -> str:
        for mark, value in values.items():
            text = text.replace(mark, value)
        return text

    return dataclasses.replace(
        case,
        headers=tuple((k, fill(v)) for k, v in case.headers),
        query=tuple((k, fill(v)) for k, v in case.query),
    )


def _mutated(token: str) -> str:
    """``token`` with its middle character changed."""
    i = len(token) // 2
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]


# -- the campaign ---------------------------------------------------------------------------------
async def _attack(
    bed: LocalAcBed, tally: AuthTally, examples: int, seed: int, progress: Progress | None
) -> None:
    held = await _connected_pair(bed)
    guard, guard_device = str(GUARD["mac"]), held[str(GUARD["mac"])]
    client = bed.client()
    errors = TracedErrors(bed.world)
    guard_before = await _guard_state(client, guard, guard_device)
    router_streams = _router_streams(bed)
    ac_doc = (await client.request("GET", "/openapi.json")).json()
    router_doc = (await client.request("GET", "/api/openapi.json", {"mac": TARGET["mac"]})).json()
    drawn = _draw(ac_doc, router_doc, [held[str(TARGET["mac"])]], examples, seed)
    tally.unauthorised = [kind not in GOOD_KINDS for _, kind in drawn]
    pair = f"{bed.client_id}:{bed.secret}".encode()
    values = {EXPIRED: await _expired_token(bed), BASIC: base64.b64encode(pair).decode()}
    for start in range(0, len(drawn), CHUNK):
        values[VALID] = await _token(bed)
        values[MUTATED] = _mutated(values[VALID])
        chunk = [_live(case, values) for case, _ in drawn[start : start + CHUNK]]

        def step(done: int, _total: int, offset: int = start) -> None:
            if progress is not None:
                progress(offset + done, len(drawn))

        await send_all(chunk, bed.net.open_connection, AC_HOST, AC_PORT, tally, errors, step)
    await bed.sleep(2.0)  # dropped streams and pending procedures settle
    await bed.token()  # the bed's own token may have run out
    client = bed.client()
    tally.check("a good request is answered", await _good(client))
    tally.check(
        "the guard router and its peripheral are intact",
        await _guard_state(client, guard, guard_device) == guard_before,
    )
    tally.check("every stream was released", not bed.ac.outboxes)
    tally.check("the switches are set back", await _switches_back(client))
    await bed.sleep(2.0)
    tally.check(
        "each router holds only the controller's own streams",
        _router_streams(bed) == router_streams,
    )
    tally.check("no internal error traced", errors() == 0)

"""Fuzz campaigns against the reference Device2 service (see :mod:`scenarios.fuzzing`).

==================  ==========================================================================
``service-http``    the management API (:mod:`devices.cloud.device2.api`): requests drawn from
                    its OpenAPI description at the product ``fuzz`` (and at one that does not
                    exist). Service calls carry no caller credential (the platform
                    authenticates them), so tenancy is the product in the path: nothing of the
                    other product may show in any answer.
``device-http``     the HTTP device API (:mod:`devices.cloud.device2.device_http`): requests
                    drawn from its OpenAPI description at the ``fuzz`` product's host, with
                    form bodies of its resources; most carry the target device's token (in one
                    of its accepted forms), some none, a forged or mutated one, or the token of
                    a device of the other product. A 2xx to a request that needs a credential
                    and had no good one, or that published as another device, is a bypass.
==================  ==========================================================================

Both serve the whole service (management and device APIs) in a fresh world, virtual time, with
two products: ``fuzz``, which the inputs act on (a *target* device, activated, with values),
and ``tenant-b``, which holds a *guard* device with stored values and a *stranger* device (its
token is the other tenant's credential). No input names ``tenant-b`` or the guard. Afterwards a
good request is answered, the guard (identity, state, tags) and ``tenant-b``'s settings and
resources are unchanged, ``fuzz`` lists none of ``tenant-b``'s devices, and the service logged
no internal error.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import tempfile
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from devices.cloud.device2 import device_openapi, openapi
from devices.cloud.device2.device_apis import Device2Apis, DevicePorts, serve_device2_apis
from devices.cloud.device2.routes import BASE
from devices.protocols.http_client import HttpClient
from scenarios.fuzzing import FuzzTally
from scenarios.http_fuzz import (
    FORM_MEDIA,
    HttpAnswer,
    HttpCase,
    LogWatch,
    TracedErrors,
    answer_class,
    case_strategy,
    described,
    draw_cases,
    exchange,
)
from sim.iplink import IpNetwork
from sim.world import World

SYSTEM = "device2"
INTERFACES = ("service-http", "device-http")
Progress = Callable[[int, int], None]
PRODUCT, OTHER = "fuzz", "tenant-b"
TARGET, GUARD, STRANGER = "target-1", "guard-1", "stranger-1"
GUARD_SECRET = "guard-secret-4f1c"  # a stored value of the guard: no answer may show it
MANAGEMENT_PORT = DEVICE_PORT = 80
OPEN_PATHS = ("/provision/activate", "/timestamp", "/openapi.json")  # no credential needed
ALIASES = ("temperature", "config_io", "switch", "nothing")


def campaign(
    interface: str, examples: int, seed: int, progress: Progress | None = None
) -> FuzzTally:
    """``examples`` inputs at ``interface`` (one of :data:`INTERFACES`)."""
    attacks: dict[str, Callable[[_Stack, FuzzTally, int, int, Progress | None], Awaitable[None]]]
    attacks = {"service-http": _service_attack, "device-http": _device_attack}
    if interface not in attacks:
        raise ValueError(f"no interface {interface!r}; interfaces: {', '.join(INTERFACES)}")
    tally = FuzzTally(SYSTEM, interface)
    with tempfile.TemporaryDirectory(prefix="hil-device2-fuzz-") as folder:
        world = World(seed=seed)
        try:
            world.run(
                _run(world, Path(folder), attacks[interface], tally, examples, seed, progress)
            )
        finally:
            world.close()
    return tally


# -- the served stack -----------------------------------------------------------------------------
class ServiceLog(LogWatch):
    """Error records the service's own modules log (their catch-alls log what they caught)."""

    LOGGERS = ("devices.cloud.device2",)


@dataclass
class _Stack:
    world: World
    net: IpNetwork
    apis: Device2Apis
    token: str  # the target device's
    stranger_token: str  # a device of the other product
    errors: Callable[[], int]  # internal errors so far (traced or logged)

    @property
    def device_host(self) -> str:
        return f"{PRODUCT}.m2.exosite.io"

    def management(self) -> HttpClient:
        return HttpClient(
            f"http://{self.apis.management_host}:{MANAGEMENT_PORT}",
            connect=self.net.open_connection,
        )

    def device(self, host: str | None = None) -> HttpClient:
        return HttpClient(
            f"http://{host or self.device_host}:{DEVICE_PORT}", connect=self.net.open_connection
        )

    def call(self, product: str, operation: str, params: dict[str, Any]) -> Any:
        return self.apis.service.gateway(product).call(operation, params)

    def guard_state(self) -> dict[str, Any]:
        """What no input may change: the guard and the other product's configuration."""
        return {
            "identity": self.call(OTHER, "getIdentity", {"identity": GUARD}),
            "state": self.call(OTHER, "getIdentityState", {"identity": GUARD}),
            "resources": self.call(OTHER, "getGatewayResourceList", {}),
            "settings": self.call(OTHER, "getGatewaySettings", {}),
        }


async def _run(
    world: World,
    folder: Path,
    attack: Callable[[_Stack, FuzzTally, int, int, Progress | None], Awaitable[None]],
    tally: FuzzTally,
    examples: int,
    seed: int,
    progress: Progress | None,
) -> None:
    net = IpNetwork(world, name="fuzz")
    apis = await serve_device2_apis(
        world,
        folder / "device2.db",
        net=net,
        ports=DevicePorts(management=MANAGEMENT_PORT, http=DEVICE_PORT),
        products=(PRODUCT, OTHER),
        archive_dir=folder / "archive",
    )
    traced = TracedErrors(world)
    with ServiceLog() as logged:
        try:
            stack = _Stack(world, net, apis, "", "", lambda: traced() + len(logged.records))
            await _populate(stack)
            before = stack.guard_state()
            await attack(stack, tally, examples, seed, progress)
            tally.check("the guard and the other product are intact", stack.guard_state() == before)
            listed = stack.call(PRODUCT, "listIdentities", {})
            names = {d.get("identity") for d in listed.get("devices", [])}
            tally.check("no device of the other product is listed", not names & {GUARD, STRANGER})
            tally.check("no internal error traced or logged", stack.errors() == 0)
        finally:
            await apis.close()


async def _populate(stack: _Stack) -> None:
    """Resources in both products; the target (fuzz), guard and stranger (other) activated."""
    for product in (PRODUCT, OTHER):
        stack.call(product, "addResource", {"alias": "temperature", "format": "number"})
        stack.call(
            product, "addResource", {"alias": "config_io", "format": "string", "settable": True}
        )
        stack.call(
            product, "addResource", {"alias": "switch", "format": "boolean", "settable": True}
        )
    tokens = {}
    for product, identity in ((PRODUCT, TARGET), (OTHER, GUARD), (OTHER, STRANGER)):
        stack.call(product, "addIdentity", {"identity": identity})
        host = stack.device_host if product == PRODUCT else f"{OTHER}.m2.exosite.io"
        answer = await stack.device(host).request(
            "POST", "/provision/activate", form={"id": identity}
        )
        if answer.status != 200:
            raise RuntimeError(f"the campaign's {identity} did not activate: {answer.text}")
        tokens[identity] = answer.text.strip()
    stack.token, stack.stranger_token = tokens[TARGET], tokens[STRANGER]
    stack.call(PRODUCT, "setIdentityState", {"identity": TARGET, "config_io": "start"})
    stack.call(OTHER, "setIdentityState", {"identity": GUARD, "config_io": GUARD_SECRET})
    stack.call(
        OTHER, "addIdentityTag", {"identity": GUARD, "tags": [{"name": "site", "value": "vault"}]}
    )
    guard = stack.device(f"{OTHER}.m2.exosite.io")
    wrote = await guard.request(
        "POST",
        "/onep:v1/stack/alias",
        form={"temperature": "21.5"},
        headers={"X-Exosite-CIK": tokens[GUARD]},
    )
    if wrote.status != 204:
        raise RuntimeError(f"the campaign's guard could not write: {wrote.status} {wrote.text}")


def _leaks(case: HttpCase, answer: HttpAnswer) -> bool:
    """Does an answer at the ``fuzz`` product show anything of the other product's that its
    request did not hold (answers may echo their input)?"""
    sent = case.wire("")
    marks = (s.encode() for s in (GUARD_SECRET, GUARD, STRANGER, OTHER))
    return any(s in answer.body and s not in sent for s in marks)


async def _send(
    stack: _Stack,
    cases: list[tuple[HttpCase, bool]],
    host: str,
    port: int,
    tally: FuzzTally,
    progress: Progress | None,
    needs_credential: Callable[[HttpCase], bool],
) -> None:
    """Send every case (with whether its credential is good) and record its answer's class."""
    with LogWatch() as log:
        for i, (case, credential_ok) in enumerate(cases, 1):
            before, logged = stack.errors(), len(log.records)
            answer = await exchange(stack.net.open_connection, host, port, case)
            kind = answer_class(answer, stack.errors() > before or len(log.records) > logged)
            if kind not in ("hang", "crash", "unhandled"):
                if 200 <= answer.status < 300 and not credential_ok and needs_credential(case):
                    kind = "auth-bypass"
                elif _leaks(case, answer):
                    kind = "auth-bypass"  # another tenant's data
            tally.record(kind, described(case, answer))
            if progress is not None and (i % 500 == 0 or i == len(cases)):
                progress(i, len(cases))


# -- service-http ---------------------------------------------------------------------------------
_PRODUCT_SEGMENT = re.compile(r"^/api:1/service/[^/]*/")


@st.composite
def _at_the_product(draw: st.DrawFn, base: st.SearchStrategy[HttpCase]) -> HttpCase:
    """A drawn request, sent to the ``fuzz`` product in 3 of 4 draws (the strategies mix a
    hostile product into half of them; most inputs should reach the operations)."""
    case = draw(base)
    if draw(st.integers(0, 3)) and _PRODUCT_SEGMENT.match(case.path):
        path = _PRODUCT_SEGMENT.sub(f"/api:1/service/{PRODUCT}/", case.path, count=1)
        return dataclasses.replace(case, path=path)
    return case


async def _service_attack(
    stack: _Stack, tally: FuzzTally, examples: int, seed: int, progress: Progress | None
) -> None:
    pinned = {
        "product": st.just(PRODUCT),
        "identity": st.sampled_from([TARGET, TARGET, "absent-1", "made-1"]),
    }
    cases = draw_cases(_at_the_product(case_strategy(openapi.describe(), pinned)), examples, seed)
    await _send(
        stack,
        [(case, True) for case in cases],
        stack.apis.management_host,
        MANAGEMENT_PORT,
        tally,
        progress,
        lambda _case: False,
    )
    client = stack.management()
    made = await client.request(
        "POST", f"{BASE.format(product=PRODUCT)}/addIdentity", json_body={"identity": "after-1"}
    )
    got = await client.request("GET", f"{BASE.format(product=PRODUCT)}/identity/after-1")
    tally.check(
        "a good request is answered",
        made.status in (204, 409) and got.status == 200 and got.json()["identity"] == "after-1",
    )


# -- device-http ----------------------------------------------------------------------------------
def _credentials(token: str, stranger: str) -> st.SearchStrategy[tuple[tuple[str, str], ...]]:
    """Credential headers, good in 4 of 5 draws: (headers, good)."""

    def basic(user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    good = st.sampled_from(
        [
            (("X-Exosite-CIK", token),),
            (("Authorization", f"token {token}"),),
            (("Authorization", basic("", token)),),
        ]
    )
    flipped = st.integers(0, len(token) - 1).map(
        lambda i: (
            ("X-Exosite-CIK", token[:i] + ("0" if token[i] != "0" else "1") + token[i + 1 :]),
        )
    )
    bad = st.one_of(
        st.just(()),
        st.just((("X-Exosite-CIK", stranger),)),
        st.just((("Authorization", f"token {stranger}"),)),
        flipped,
        st.integers(1, len(token) - 1).map(lambda n: (("X-Exosite-CIK", token[:n]),)),
        st.binary(min_size=20, max_size=20).map(lambda b: (("X-Exosite-CIK", b.hex()),)),
        st.just((("Authorization", basic(TARGET, token)),)),
        st.just((("Authorization", "token"),)),
        st.text(max_size=40).map(lambda t: (("X-Exosite-CIK", t),)),
    )
    return st.one_of(*[good.map(lambda h: (h, True))] * 4, bad.map(lambda h: (h, False)))


_VALUES = st.one_of(
    st.integers(-1000, 1000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["true", "false", "", "²", "9" * 5000, "nobody-2", "A" * 3000, "%00"]),
    st.text(max_size=12),
)


def _form(case: HttpCase) -> st.SearchStrategy[bytes]:
    """A form body for a device route: writes of its resources, records, activations."""
    path = case.path.rstrip("/")
    if path.endswith("/stack/record"):
        points = st.lists(
            st.tuples(st.integers(-10, 2**40).map(str) | st.text(max_size=6), _VALUES),
            max_size=4,
        )
        return st.tuples(st.sampled_from(ALIASES), points).map(
            lambda ap: urllib.parse.urlencode([("alias", ap[0]), *ap[1]]).encode()
        )
    if path.endswith("/provision/activate"):
        ids = st.sampled_from([TARGET, "new-1", "", "nobody", "a" * 300])
        extra = st.dictionaries(st.sampled_from(["vendor", "model", "sn", "password"]), _VALUES)
        return st.tuples(ids, extra).map(
            lambda ie: urllib.parse.urlencode({"id": ie[0], **ie[1]}).encode()
        )
    writes = st.dictionaries(st.sampled_from(ALIASES), _VALUES, max_size=3)
    return writes.map(lambda d: urllib.parse.urlencode(d).encode())


# Long polls wait up to 300 s by design (the facts' limit), past the plumbing's HANG_S: the
# drawn Request-Timeout values stay well below it.
_EXTRA_HEADERS = st.lists(
    st.one_of(
        st.tuples(
            st.just("Request-Timeout"),
            st.sampled_from(["0", "250", "30000", "-5", "x", "1e3", "²"]),
        ),
        st.tuples(
            st.just("If-Modified-Since"),
            st.sampled_from(["0", "4102444800", "Thu, 01 Jan 1970 00:00:00 GMT", "z"]),
        ),
        st.tuples(st.just("X-Exosite-Publish-As"), st.sampled_from([TARGET, STRANGER, "x"])),
        st.tuples(st.just("Range"), st.sampled_from(["bytes=0-3", "bytes=9-1", "x"])),
    ),
    max_size=2,
).map(tuple)


@st.composite
def _device_case(
    draw: st.DrawFn, base: st.SearchStrategy[HttpCase], token: str, stranger: str
) -> tuple[HttpCase, bool]:
    case = draw(base)
    headers, good = draw(_credentials(token, stranger))
    headers += draw(_EXTRA_HEADERS)
    query = case.query
    if case.method == "GET" and draw(st.booleans()):
        query += tuple((alias, "") for alias in draw(st.lists(st.sampled_from(ALIASES))))
    body, content_type = case.body, case.content_type
    if case.method == "POST" and draw(st.integers(0, 3)):
        body, content_type = draw(_form(case)), FORM_MEDIA
    # publishing as another device (writes only; reads are the credential's own)
    publish_as = case.method == "POST" and any(
        k == "X-Exosite-Publish-As" and v != TARGET for k, v in headers
    )
    dressed = HttpCase(case.method, case.path, query, body, content_type, headers, case.operation)
    return dressed, good and not publish_as


def _needs_credential(case: HttpCase) -> bool:
    return case.path.rstrip("/") not in OPEN_PATHS  # the server takes a trailing slash


async def _device_attack(
    stack: _Stack, tally: FuzzTally, examples: int, seed: int, progress: Progress | None
) -> None:
    base = case_strategy(device_openapi.describe(stack.apis.config))
    strategy = _device_case(base, stack.token, stack.stranger_token)
    cases = draw_cases(strategy, examples, seed)
    await _send(stack, cases, stack.device_host, DEVICE_PORT, tally, progress, _needs_credential)
    device = stack.device()
    auth = {"X-Exosite-CIK": stack.token}
    wrote = await device.request(
        "POST", "/onep:v1/stack/alias", form={"temperature": "7"}, headers=auth
    )
    read = await device.request("GET", "/onep:v1/stack/alias?temperature", headers=auth)
    refused = await device.request("GET", "/onep:v1/stack/alias?temperature")
    tally.check(
        "a good request is answered",
        wrote.status == 204 and read.status == 200 and "temperature=7" in read.text,
    )
    tally.check("a request without a credential is refused", refused.status == 401)

"""identity_format (seed: Configuration parameters; facts sheet, section 4): every type valid
and invalid, prefix, casing, length and mac_base; made identities match their format; range
exhaustion; and the format's settings checks."""

from __future__ import annotations

import random

import pytest

from devices.cloud.device2.errors import Conflict, InvalidInput
from devices.cloud.device2.identity_format import TYPES, IdentityFormat


def fmt(type_: str, prefix: str = "", **options: object) -> IdentityFormat:
    spec: dict[str, object] = {"type": type_, "options": options}
    if prefix:
        spec["prefix"] = prefix
    return IdentityFormat.parse(spec)


CASES = [
    # (format, valid, invalid)
    (
        fmt("mac:48"),
        ["00:1A:2b:3C:4d:5E", "ff:ff:ff:ff:ff:ff"],
        ["00-1A-2B-3C-4D-5E", "00:1A:2B:3C:4D", "00:1A:2B:3C:4D:5G", "001A2B3C4D5E"],
    ),
    (fmt("mac-48"), ["00-1A-2B-3C-4D-5E"], ["00:1A:2B:3C:4D:5E", "00-1A-2B-3C-4D-5E-6F"]),
    (fmt("mac.48"), ["001.A2B.3C4.D5E"], ["00.1A.2B.3C.4D.5E", "001A.2B3C.4D5E", "001.A2B.3C4"]),
    (fmt("mac:48", mac_base="00:1A:2B"), ["00:1a:2b:00:00:01"], ["00:1A:2C:00:00:01"]),
    (fmt("mac.48", mac_base="001A2B"), ["001.a2b.000.001"], ["001.a2c.000.001"]),
    (
        fmt("uuidv4"),
        ["e5fa76f8-1220-45c9-b972-3e2345851677", "E5FA76F8-1220-45C9-8972-3E2345851677"],
        [
            "e5fa76f8-1220-35c9-b972-3e2345851677",
            "e5fa76f8-1220-45c9-c972-3e2345851677",
            "e5fa76f812204 5c9b9723e2345851677",
        ],
    ),
    (fmt("base10"), ["0", "0123456789"], ["12a", "", "-1", "1.5"]),
    (fmt("base10", length=4), ["0042"], ["42", "00420"]),
    (fmt("base10", "dev-", length=3), ["dev-001", "DEV-001"], ["dev-01", "001", "dv-001"]),
    (fmt("base16"), ["0123456789abcdefABCDEF"], ["0x12", "g1"]),
    (fmt("base16", "ab", casing="lower", length=2), ["ab0f"], ["AB0f", "ab0F", "ab0ff"]),
    (fmt("base16", "AB", casing="upper"), ["AB0F"], ["AB0f", "ab0F"]),
    (fmt("opaque"), ["anything goes", "ünïcödé", "a/b"], ["", "tab\there"]),
    (fmt("opaque", casing="lower"), ["abc-1"], ["Abc-1"]),
    (fmt("opaque", casing="upper"), ["ABC-1"], ["ABc-1"]),
    (fmt("mac-48", casing="upper"), ["00-1A-2B-3C-4D-5E"], ["00-1a-2B-3C-4D-5E"]),
    (
        fmt("uuidv4", casing="lower"),
        ["e5fa76f8-1220-45c9-b972-3e2345851677"],
        ["E5FA76F8-1220-45C9-B972-3E2345851677"],
    ),
]


@pytest.mark.parametrize("format_, valid, invalid", CASES, ids=lambda c: getattr(c, "type", ""))
def test_valid_identities_pass_and_invalid_ones_name_what_is_accepted(format_, valid, invalid):
    for identity in valid:
        assert format_.check(identity) == identity
    for identity in invalid:
        with pytest.raises(InvalidInput) as err:
            format_.check(identity)
        assert err.value.field == "identity"
        assert format_.describe() in err.value.message


@pytest.mark.parametrize("type_", TYPES)
@pytest.mark.parametrize("casing", ["lower", "upper", "mixed"])
def test_made_identities_match_their_format(type_, casing):
    options: dict[str, object] = {"casing": casing}
    prefix = ""
    if type_ in ("base10", "base16"):
        options["length"] = 6
        prefix = {"lower": "sn", "upper": "SN", "mixed": "Sn"}[casing]
    if type_.startswith("mac"):
        options["mac_base"] = "0a:1b:2c"
    made_format = fmt(type_, prefix, **options)
    rng = random.Random(3)
    made = {made_format.make(rng, lambda _i: False, 0) for _ in range(50)}
    assert len(made) > 40
    for identity in made:
        assert made_format.matches(identity), identity


def test_a_small_range_is_used_up_then_refused_with_conflict():
    small = fmt("base10", length=1)
    taken: set[str] = set()
    rng = random.Random(1)
    for _ in range(10):
        taken.add(small.make(rng, taken.__contains__, len(taken)))
    assert taken == {str(i) for i in range(10)}
    with pytest.raises(Conflict, match="all 10"):
        small.make(rng, taken.__contains__, len(taken))


@pytest.mark.parametrize(
    "spec, field",
    [
        ({"type": "mac:49"}, "identity_format.type"),
        ({"type": "opaque", "prefix": "x"}, "identity_format.prefix"),
        (
            {"type": "base10", "prefix": "AB", "options": {"casing": "lower"}},
            "identity_format.prefix",
        ),
        ({"type": "base10", "options": {"casing": "title"}}, "identity_format.options.casing"),
        ({"type": "base10", "options": {"length": 0}}, "identity_format.options.length"),
        ({"type": "base10", "options": {"length": "6"}}, "identity_format.options.length"),
        ({"type": "uuidv4", "options": {"length": 6}}, "identity_format.options.length"),
        ({"type": "mac:48", "options": {"mac_base": "00:1A"}}, "identity_format.options.mac_base"),
        ({"type": "base16", "options": {"mac_base": "001A2B"}}, "identity_format.options.mac_base"),
        ({"type": "opaque", "options": {"size": 1}}, "identity_format.options.size"),
        ({"type": "opaque", "suffix": "x"}, "identity_format.suffix"),
    ],
)
def test_bad_format_settings_name_their_field(spec, field):
    with pytest.raises(InvalidInput) as err:
        IdentityFormat.parse(spec)
    assert err.value.field == field


def test_defaults_are_opaque_and_mixed_case():
    default = IdentityFormat.parse(None)
    assert (default.type, default.casing, default.prefix) == ("opaque", "mixed", "")
    assert default.to_json() == {"type": "opaque", "options": {"casing": "mixed"}}

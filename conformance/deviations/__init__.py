"""Deviation catalogs: how ``hil selfcheck`` measures what the conformance suite catches.

A requirement catalog says what a SUT must do; a deviation catalog says how our own reference
implementation can be told *not* to, one named misbehaviour at a time, and which requirements
must then fail. Running the suite against the builtin SUT with each deviation in turn gives the
suite's detection power: the share of deviations some scenario catches (a requirement ending
``fail``, ``deviates`` or ``error``).

Adding deviations to a system (the BLE router is the worked example):

1. **Declare them** in the system's package as ``DEVIATIONS: dict[str, str]`` (name -> one line
   saying what goes wrong), beside a small constructor such as
   :func:`devices.gateways.ble_router.deviations.ble_deviations` built on
   :meth:`devices.deviations.Deviations.of`, which refuses names the system does not declare.
2. **Hook them**: the node takes ``deviations=`` (names or a ``Deviations`` value) and keeps the
   value; at the exact place of a behaviour a small ``if self.deviations.active("NAME"):``
   branch bends it (a field left out, a status changed, a message dropped or sent twice, a
   timer stretched, a rule skipped). No parallel implementation: without deviations the node
   runs the code it always runs.
3. **Catalog them** in ``conformance/deviations/<profile>.yaml``::

       profile: ble-router
       implementation: devices.gateways.ble_router.deviations   # the module with DEVIATIONS
       deviations:
         - name: dead-link-slow
           description: A lost link is noticed 10 s after the supervision timeout.
           kind: wrong-timing        # one of KINDS
           known_fault:              # false, or where the field fault is documented:
             kind: facts             # a `source` as in requirement catalogs (seed or facts)
             file: specs/gsdk-wire-facts.md
             quote: slow detection of dead links
           catches: [BLE-CST-003, BLE-CST-004]

   ``catches`` names requirement IDs of the profile's catalog whose scenarios must catch it.
   ``tests/test_deviations.py`` checks every catalog against its implementation's
   ``DEVIATIONS`` and its requirement catalog, and that every mandatory requirement family (the
   ID up to its last dash) is caught by at least one deviation.
4. **Select them**: a builtin SUT declaration with ``deviations: [NAME, ...]`` (checked against
   this catalog by :mod:`conformance.endpoints`) reaches the system's ``bed`` fixture as
   ``hil_config.sut.deviations``; the fixture hands them to the reference implementation.
   ``hil serve <system> --deviate NAME`` (repeatable) does the same for a served system: the
   system's serve module exposes ``DEVIATIONS`` and passes ``ServeOptions.deviations`` on.
5. **Measure**: ``hil selfcheck --profile P`` (:mod:`conformance.selfcheck`) runs, for each
   deviation, the scenarios carrying the requirements it ``catches`` (``--full``: the whole
   profile) and prints the detection table, after a baseline run without deviations. Where a
   deviation slips through, strengthen the scenarios: compare values end to end, check what
   went on the air or the wire (captures, the peer's own record), check every side effect a
   sentence of the seed promises.
"""

from conformance.deviations.catalog import (
    DEVIATIONS_DIR,
    KINDS,
    Deviation,
    DeviationCatalog,
    DeviationCatalogError,
    list_deviation_profiles,
    load_deviations,
)

__all__ = [
    "DEVIATIONS_DIR",
    "KINDS",
    "Deviation",
    "DeviationCatalog",
    "DeviationCatalogError",
    "list_deviation_profiles",
    "load_deviations",
]

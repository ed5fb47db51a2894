"""Fixtures and steps of the RS485 scenarios: the ``bed`` (a line bed of
:mod:`scenarios.rs485.bed`, chosen by the scenario's profile), what the scenario's masters and
control panels got, and the Modbus and OSDP step libraries."""

from __future__ import annotations

from features.rs485.steps.fixtures import *  # noqa: F403  (fixtures)
from features.rs485.steps.modbus import *  # noqa: F403  (step definitions register as fixtures)
from features.rs485.steps.modbus_raw import *  # noqa: F403
from features.rs485.steps.osdp import *  # noqa: F403

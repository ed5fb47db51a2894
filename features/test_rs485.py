"""Binds every scenario of features/rs485/ (the rs485-modbus and rs485-osdp profiles) with the
RS485 step library and fixtures (kept out of features/conftest.py, which holds BLE ones)."""

from pytest_bdd import scenarios

from features.steps.rs485_fixtures import *  # noqa: F403  (fixtures)
from features.steps.rs485_modbus import *  # noqa: F403  (step definitions)
from features.steps.rs485_osdp import *  # noqa: F403  (step definitions)

scenarios("rs485")

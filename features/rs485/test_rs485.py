"""Binds every scenario of features/rs485/ (the rs485-modbus and rs485-osdp profiles); their
fixtures and steps come from this folder's conftest.py."""

from pytest_bdd import scenarios

scenarios("rs485")

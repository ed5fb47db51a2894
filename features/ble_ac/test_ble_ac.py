"""Binds every scenario of features/ble_ac/ (the ble-ac conformance profile)."""

from pytest_bdd import scenarios

scenarios("ble_ac")

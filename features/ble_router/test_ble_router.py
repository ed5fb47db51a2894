"""Binds every scenario of features/ble_router/ (the ble-router conformance profile)."""

from pytest_bdd import scenarios

scenarios("ble_router")

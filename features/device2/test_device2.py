"""Binds every scenario of features/device2/ (the device2 conformance profile)."""

from pytest_bdd import scenarios

scenarios("device2")

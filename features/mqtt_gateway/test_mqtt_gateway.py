"""Binds every scenario of features/mqtt_gateway/ (the mqtt-gateway conformance profile, both
roles); their fixtures and steps come from this folder's conftest.py."""

from pytest_bdd import scenarios

scenarios("mqtt_gateway")

"""Binds every scenario of features/connect_master/ (the connect-master conformance profile)."""

from pytest_bdd import scenarios

from features.steps.cm_fixtures import *  # noqa: F403  (fixtures)
from features.steps.cm_load import *  # noqa: F403
from features.steps.cm_slaves import *  # noqa: F403
from features.steps.cm_steps import *  # noqa: F403  (step definitions register as fixtures)
from features.steps.cm_wire import *  # noqa: F403

scenarios("connect_master")

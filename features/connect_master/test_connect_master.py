"""Binds every scenario of features/connect_master/ (the connect-master conformance profile)."""

from pytest_bdd import scenarios

from features.connect_master.steps.calls import *  # noqa: F403  (step definitions are fixtures)
from features.connect_master.steps.load import *  # noqa: F403
from features.connect_master.steps.login import *  # noqa: F403
from features.connect_master.steps.slaves import *  # noqa: F403
from features.connect_master.steps.stream import *  # noqa: F403
from features.connect_master.steps.terminals import *  # noqa: F403
from features.connect_master.steps.wire import *  # noqa: F403

scenarios("connect_master")

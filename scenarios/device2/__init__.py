"""The Device2 system's scenarios layer (DESIGN.md "Product shape"):

================  =============================================================================
``bed.py``        the Bed: :class:`~.bed.LocalDevice2Bed` (the service, its management and
                  device APIs and the simulated devices in one world) and
                  :class:`~.bed.RemoteDevice2Bed` (an outside service at its base URLs, the
                  harness's devices on real sockets, the far side reset through world
                  control), both :class:`~.bed.Device2Bed`
``placement.py``  device specs and the placed, running devices (:class:`~.placement.SocketNet`
                  lets them dial real sockets)
``control.py``    the world-control API ``hil serve device2`` offers beside the service
``serve.py``      ``hil serve device2`` (the :mod:`scenarios.serving` contract)
``worlds.py``     declarative worlds for ``worlds/*.yaml`` (``hil serve device2 --scenario``)
``load.py``       a fleet of devices and the exactness checks the ``@load`` scenarios and
                  ``benchmarks/device2.py`` share
``transcript.py`` the MQTT transcript of the service's device API (evidence)
================  =============================================================================

The reference service itself is :mod:`devices.cloud.device2`; its scenarios and steps are
``features/device2/``; its requirements ``conformance/catalogs/device2.yaml``.
"""

"""The MQTT gateway system's scenarios layer (seed 001, DESIGN.md "Product shape"), for both
roles: a gateway judged by the harness as its platform and devices, a platform judged by the
harness as its gateways.

=========================  =======================================================================
``bed.py``                 the Bed: :class:`~.bed.LocalGatewayBed`, :class:`~.bed.RemoteGatewayBed`,
                           :class:`~.bed.LocalPlatformBed`, :class:`~.bed.RemotePlatformBed`
``control.py``             the world-control API ``hil serve mqtt-gateway`` offers beside the
                           gateway
``serve_platform.py``      ``hil serve mqtt-platform`` (the :mod:`scenarios.serving` contract)
``serve_gateway.py``       ``hil serve mqtt-gateway``
``worlds.py``              declarative worlds (``worlds/*.yaml``): the gateway's configuration,
                           meters, BLE sensors, pre-provisioned gateways, faults
``transcript.py``          the MQTT transcript (every packet as a JSON row) and the taps recording
                           it
``continuity.py``          :func:`~.continuity.judge_continuity`: readings lost, duplicated,
                           reordered
``slaves.py``              the harness's meters (a ``ticks`` point no two polls share) and the
                           line sniffer that hears what a gateway read and wrote
``harness_gateway.py``     the harness's paho gateways (platform role)
``platform_control.py``    a platform's control surface, in process or over HTTP (both roles)
``outside.py``             outside gateway processes, in virtual environments of their own
                           (``venvs.py``)
``deviations.py``          both reference implementations' deviations, split per role
=========================  =======================================================================

The reference implementations are :mod:`devices.gateways.mqtt_gateway` and
:mod:`devices.cloud.mqtt_platform`; the scenarios are ``features/mqtt_gateway/``; the
requirements ``conformance/catalogs/mqtt-gateway.yaml``.
"""

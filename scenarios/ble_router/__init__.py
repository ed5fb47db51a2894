"""The BLE router system's scenarios layer (DESIGN.md "Product shape"):

==============  ===============================================================================
``bed.py``      the Bed: :class:`~.bed.LocalBleBed` (one world, the reference router inside)
                and :class:`~.bed.RemoteBleBed` (a router at a URL, its world reached through
                its world-control API), both :class:`~.bed.BleBed`
``control.py``  the world-control API ``hil serve ble-router`` offers beside the router
``serve.py``    ``hil serve ble-router`` (the :mod:`scenarios.serving` contract)
``worlds.py``   declarative worlds: ``load_scenario``, ``build_bed``, ``populate`` for
                ``worlds/*.yaml`` (``hil scenario run``)
``load.py``     the notification-load driver the ``@load`` scenarios and benchmarks share
==============  ===============================================================================

The reference router itself is :mod:`devices.gateways.ble_router`; its scenarios and steps are
``features/ble_router/``; its requirements ``conformance/catalogs/ble-router.yaml``.
"""

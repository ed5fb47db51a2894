"""The BLE access controller system's scenarios layer (DESIGN.md "Product shape"):

==============  ===============================================================================
``bed.py``      the Bed: :class:`~.bed.LocalAcBed` (one world: the reference controller, its
                routers on the shared radio, the peripherals) and :class:`~.bed.RemoteAcBed`
                (a controller at a URL, its world reached through its world-control API)
``control.py``  the world-control API ``hil serve ble-ac`` offers beside the controller
``serve.py``    ``hil serve ble-ac`` (the :mod:`scenarios.serving` contract)
``worlds.py``   declarative worlds: ``load_scenario``, ``build_bed``, ``populate`` for
                ``worlds/*.yaml``
==============  ===============================================================================

The reference controller is :mod:`devices.gateways.ble_ac`; its scenarios and steps are
``features/ble_ac/``; its requirements ``conformance/catalogs/ble-ac.yaml``.
"""

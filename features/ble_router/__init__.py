"""The BLE router's scenarios (profile ``ble-router``): ``*.feature`` here, bound by
``test_ble_router.py``; fixtures (``bed``, ``ctx``) in ``conftest.py``; the step library in
``steps/``. The bed is :mod:`scenarios.ble_router.bed`."""

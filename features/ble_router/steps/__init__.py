"""The BLE router's step library (profile ``ble-router``), one module per area of the router's
API: scan, connection, gatt, notify, pairing, faults, load... ``support`` holds the scenario
context (:class:`~features.ble_router.steps.support.Ctx`) they share; the steps every system
shares (time passing, evidence) live in ``features/steps/``."""

"""The Device2 step library (profile ``device2``): the management API (``service``), the
simulated devices (``devices``), their data, events and restores (``data``), the fleet
(``load``); what they share is in ``support``."""

"""The RS485 line's scenarios (profiles ``rs485-modbus`` and ``rs485-osdp``): ``*.feature``
here, bound by ``test_rs485.py``; fixtures (``bed``, ``seen``) in ``conftest.py``; the step
library in ``steps/``. The beds are :mod:`scenarios.rs485.bed`."""

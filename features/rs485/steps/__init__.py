"""The step library of the RS485 scenarios (profiles rs485-modbus and rs485-osdp)."""

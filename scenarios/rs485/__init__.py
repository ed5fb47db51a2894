"""The RS485 line system: beds (:mod:`.bed`), the world-control API of a served line
(:mod:`.control`), ``hil serve rs485`` (:mod:`.serve`) and its world files (:mod:`.worlds`)."""

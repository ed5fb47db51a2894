"""Steps of the connect-master scenarios, acting on the scenario's :class:`state.CmState` (the
``cm`` fixture) and through it on its bed (:class:`scenarios.connect_master.bed.CmBed`)."""

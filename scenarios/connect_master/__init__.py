"""The Connect Master system's test bed: :mod:`.bed` (``LocalCmBed`` / ``RemoteCmBed``, one
protocol), :mod:`.world` (the reference world the local bed runs), :mod:`.control` (the
world-control API ``hil serve connect-master`` offers), :mod:`.serve`, :mod:`.worlds` (world
files in ``worlds/``), :mod:`.placement` (what placing a terminal takes), :mod:`.declared`
(an outside master's declared terminals) and :mod:`.client` (a tenant's client)."""

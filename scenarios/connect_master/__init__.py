"""The Connect Master system's test bed: :mod:`.bed` (``LocalCmBed`` / ``RemoteCmBed``, one
protocol), :mod:`.world` (the reference world the local bed runs), :mod:`.control` (the
world-control API ``hil serve connect-master`` offers), :mod:`.serve`, :mod:`.worlds` (world
files in ``worlds/``), :mod:`.placement` (what placing a terminal takes), :mod:`.declared`
(an outside master's declared terminals), :mod:`.client` (a tenant's client), :mod:`.loopback`
(the master served in-process over the real gRPC wire) and :mod:`.fuzz` (the fuzz campaigns of
its gRPC interfaces, with :mod:`.fuzz_values` and :mod:`.fuzz_tokens`)."""

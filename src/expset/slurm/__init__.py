"""Backends: the external programs expset drives (SLURM), behind argv builders, parsers and a runner."""

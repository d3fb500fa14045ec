"""SLURM's commands, as expset runs them: command lines, parsers of their answers, and the runner seam."""

"""fs layer of expset."""

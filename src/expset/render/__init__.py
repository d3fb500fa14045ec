"""render layer of expset."""

"""io layer of expset."""

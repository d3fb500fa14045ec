"""ui layer of expset."""

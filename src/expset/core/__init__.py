"""The functional core: plan → naming → layout. Pure functions over plain data; imports only the
standard library and pydantic, never the file system, the clock or the environment."""

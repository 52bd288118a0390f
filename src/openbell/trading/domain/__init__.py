"""Trading rules that need no I/O: orders and fills as projected, and unit conversion."""

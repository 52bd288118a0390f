"""Development-only benchmark code that is not part of the openbell wheel."""

"""How the outside world reaches trading: the HTTP API."""

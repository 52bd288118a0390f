"""Identity's use cases: register and authenticate clients, issue tokens, manage signing keys."""

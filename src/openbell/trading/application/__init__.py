"""Use cases, the ports they need, and the projector that feeds the read model."""

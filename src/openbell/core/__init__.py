"""The core: one writer over the order books and the ledger, journaled and replayable."""

"""The deterministic state machine: ledger, instruments, order books, matching, risk."""

"""Identity's rules, free of frameworks, I/O, clocks and randomness."""

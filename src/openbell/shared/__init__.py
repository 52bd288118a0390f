"""Pure building blocks shared by every context: identifiers, money, time, errors."""

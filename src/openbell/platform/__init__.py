"""Infrastructure that knows no business rule: settings, database, web, security."""

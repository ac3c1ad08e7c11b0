"""The recurrence service: creates the next instance of a series when one is completed."""

"""Users, roles, passwords, bearer tokens and sign-in upkeep."""

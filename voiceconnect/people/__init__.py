"""People and what is kept about them: the database, accounts and sessions, the directory (search, contacts, do not
disturb, missed calls) and the call history."""

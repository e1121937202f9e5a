"""Programs as participants: a program's socket as a tab of its user, and the Sound test contact."""

"""Who is connected where: a tab's Device, the switchboard that wires sessions, tabs, presence and calls, the
connection service per account and browser, the hub protocol and the in-memory hub."""

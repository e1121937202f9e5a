"""The call state machine: its vocabulary and records, the views tabs get, the actions that move calls (each one
transaction of the call store), and what browser modules say about a call (signals, signaling)."""

"""Guards, effects and tasks any definition may name (segregation of duties, timers, notifications)."""

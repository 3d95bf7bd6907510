"""riskloop's engine and domain: definitions, machines, firing, audit, outbox, timers.

This package never imports Flask, ``api`` or ``web``; it works on a SQLAlchemy
``Session`` and plain values so that views, Dramatiq actors and the CLI share it.
"""

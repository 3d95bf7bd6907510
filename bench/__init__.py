"""riskloop's benchmarks (``make bench`` / ``python -m bench.run``): SPEC section 7 in figures.

Everything here talks to 127.0.0.1 only, creates and drops its own databases,
and is bounded in size and time. Engine-dependent sections import ``workflow``
and ``api`` lazily so that the baselines run on their own.
"""

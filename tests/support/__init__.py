"""What the test suites share: builders, clients, actors and data.

Tests and ``conftest.py`` files import helpers from here, never from each other;
fixtures stay in the ``conftest.py`` of the level that uses them.
"""

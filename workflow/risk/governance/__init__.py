"""Governed configuration: the kinds of configuration kept as versions in the database,
how each is validated and read, the backtest of a candidate before it goes live, and the
``config_change`` workflow that publishes a draft under four eyes."""

"""Governed configuration: the kinds of configuration kept as versions in the database,
how each is validated and read, and the ``config_change`` workflow that publishes a draft
under four eyes."""

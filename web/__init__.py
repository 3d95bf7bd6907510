"""The web console (server-rendered pages); it calls the same services as the API."""

"""Domain modules: each registers the named guards, effects, tasks and jobs it offers."""

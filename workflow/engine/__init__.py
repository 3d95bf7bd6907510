"""The generic workflow engine: definitions, expressions, machines, the registry of named guards/effects/tasks, the catalog, firing, inbox and visibility. It knows nothing of customer risk."""

"""Running what the engine queued: the task runner, the scheduler and the Dramatiq broker."""

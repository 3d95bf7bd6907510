"""The customer-risk domain: a plug-in of named guards, effects, tasks, jobs and data views for the workflows in definitions/."""

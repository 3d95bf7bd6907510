"""Notifications to people: in-app notifications, e-mail, webhooks, the digest."""

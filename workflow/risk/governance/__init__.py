"""Governed configuration: changes to rules, routing and checklists, tested before they go live."""

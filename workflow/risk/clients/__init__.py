"""The client archive: model, validation, services, bulk import, encryption, masking, demo data."""

"""Generic infrastructure with no riskloop concept in it: database base and types, clock, request correlation, transactions, encryption, the file store, backups, spreadsheets, durations."""

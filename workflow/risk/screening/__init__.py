"""Risk screening: the rule set, data providers, watch lists."""

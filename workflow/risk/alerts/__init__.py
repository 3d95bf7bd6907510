"""The alert loop: intake, routing, SLAs, client suspension, webhook intake."""

"""Personal information (PIPL): who read which client record, and what is held about a person."""

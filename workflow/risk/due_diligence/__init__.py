"""Due-diligence reviews: checklist, evidence, periodic re-review."""

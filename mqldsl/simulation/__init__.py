"""Simulation: scenarios of leads that no policy decides, synthetic journeys,
a sales model, funnel metrics and what-if comparisons (SPEC §14)."""

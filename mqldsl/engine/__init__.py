"""Deciding leads: the runtime records (Lead, Event, Decision), the policy compiled to Python
(:class:`~mqldsl.engine.evaluator.Evaluator`), the reference interpreter the tests compare it
with, explanations, the policy's own examples and the one process pool."""

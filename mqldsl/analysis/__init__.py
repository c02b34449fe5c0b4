"""The checker: names, types, stages, params, examples, lints and score bounds, from an AST
to a :class:`~mqldsl.analysis.model.CheckedPolicy` that every later stage reads."""

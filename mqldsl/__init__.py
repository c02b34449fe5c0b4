"""mqldsl: lead-qualification policies as code.

The pipeline is grammar -> parser -> typed AST -> checker -> compiler -> runtime,
with a formatter, a simulator and a document renderer around it.
"""

__version__ = "0.1.0"

from mqldsl.cli import run

run()

from mqldsl.cli import main

main()

from ramparts.cli import main

main()

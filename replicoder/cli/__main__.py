from replicoder.cli import main

main()

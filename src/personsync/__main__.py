from personsync.cli import main

main()

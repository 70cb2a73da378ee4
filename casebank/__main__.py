from casebank.cli import main

main()

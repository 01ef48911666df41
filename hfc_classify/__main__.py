from hfc_classify.cli.app import main

main()

from hfc_detect.cli.app import main

main()

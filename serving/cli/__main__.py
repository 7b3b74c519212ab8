from serving.cli.main import main

main()

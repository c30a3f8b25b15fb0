from grewkit.cli.main import main

main()

"""mgfast's command line: the console script ``mgfast`` runs :data:`mgfast.cli.main.app`."""

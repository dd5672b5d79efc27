"""mgfast's command line (installed as ``mgfast.cli``; console script ``mgfast``)."""

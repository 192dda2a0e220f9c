"""One module per `siamesekit` sub-command; see `siamesekit/cli.py`."""

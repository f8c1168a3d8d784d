from greenloop.cli import entry

entry()

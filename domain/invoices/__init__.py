"""Invoice requests as the channel sent them, and the one invoice of a group of duplicate orders."""

"""The `orderhub` command line: it composes the API, the workers and the demo, which never import each other."""

"""HTTP and GraphQL boundary of orderhub: translates requests into calls on domain/."""

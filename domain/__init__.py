"""Business rules of orderhub and their persistence; nothing here knows HTTP, GraphQL or Redis."""

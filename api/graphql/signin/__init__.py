"""Customer sign-in over GraphQL (domain/signin): the three ways in, the refresh and the sign-out."""

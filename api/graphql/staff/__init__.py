"""Staff sign-in and access administration (partner keys, staff accounts, the admin log): domain/access."""

"""Channel intake: each marketplace's own order payload, cleaned, watched for drift and mapped to canonical orders."""

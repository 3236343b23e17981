"""Order health over GraphQL (domain/health): metrics, trends, drill-downs, thresholds, alerts, customer
reports from partner systems, and the self-check."""

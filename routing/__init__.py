"""Dynamic routing: every placed order, enriched with its customer, goes to
the topic of the customer's level; the enriched order also feeds the email
join."""

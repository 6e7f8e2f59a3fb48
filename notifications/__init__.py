"""Order confirmation emails: a windowed join of orders with their payment and
customer, an outbox topic, and a sender that mails each request once."""

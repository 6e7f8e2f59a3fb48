"""What composes the services: the configuration model, and (with the domain)
the topics, processors and metrics they are built from."""

"""What composes the services and knows the domain: the configuration model,
the topic catalogue, the processor registry, the domain's metrics, dead
letters and wiring."""

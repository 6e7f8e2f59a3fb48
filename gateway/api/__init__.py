"""The gRPC edge: servicers (decode -> handler -> encode), routing to the
owning instance, load shedding, and the error-to-status interceptor."""

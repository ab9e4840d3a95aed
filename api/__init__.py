"""The FastAPI application: settings wiring, routes, error handlers and middleware."""

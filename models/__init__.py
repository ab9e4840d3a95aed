"""Tables, API schemas, and the data layer: databases, connections, and a repository per
aggregate (users, sessions, products) whose functions take a connection."""

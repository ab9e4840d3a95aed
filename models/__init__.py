"""Tables, API schemas, the database engine and the crud functions that take a session."""

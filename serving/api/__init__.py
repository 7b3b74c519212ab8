"""The HTTP API: `create_app`, its dependencies, schemas, keys and audit, the model store the
routes read, and one router per resource."""

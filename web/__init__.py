"""The Flask layer: the application factory, its configuration, and one module per concern."""

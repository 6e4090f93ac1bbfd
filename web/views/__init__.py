"""One module per surface of the app, each with its blueprint; views never import each other."""

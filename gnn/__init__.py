"""Graph learning on the KG (PyTorch Geometric). Imports torch; nothing but the CLI imports gnn, lazily."""

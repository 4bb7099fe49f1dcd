"""The central server's services: thin shells that read, decide (with the pure
modules in ``central``) and write, one transaction per operation."""

"""The ``sallyport`` command and the pieces every process shares (configuration)."""

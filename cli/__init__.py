"""The command line and composition root: the only package that knows every service."""

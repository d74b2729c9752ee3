"""Command-line entry points. Each is ``main(argv=None) -> int`` with a separate parser builder."""

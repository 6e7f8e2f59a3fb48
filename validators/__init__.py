"""The three checks every order goes through, each a pure rule and a processor."""

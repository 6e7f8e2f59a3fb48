"""Folds the checks' validations into one verdict per order."""
